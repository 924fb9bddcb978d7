"""Group commit for webhook records: single-record deliveries for the same connection, entity
and platform that arrive while an earlier batch is being committed join the next batch, which is
written in one transaction. An idle gateway writes each delivery at once; a busy one writes many
per commit instead of queueing commits.

A batch goes into the job the previous batch went into while no worker has claimed that job yet,
and into a new job (committed, then dispatched) otherwise. So an idle worker gets each delivery
at once, and a busy one finds everything that arrived meanwhile in one job: the per-job work
(claim, rules, finish, events, AMS sync) is paid per worker turn, not per delivery.

On PostgreSQL a batch joining a job is one statement in autocommit (one round trip: the guarded
counter update and the staged rows together), over a connection the writer keeps while batches
keep coming, so a busy gateway does not check out (and ping) a connection per batch."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Boolean,
    Insert,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.models import IngestJob, StagedRecord
from app.ingest.service import (
    STAGED_COLUMNS,
    IngestRequest,
    accept_ingest,
    append_records,
    hand_over,
    serialise_records,
)
from app.jobs.models import Door, JobStatus
from app.privacy.staged_subjects import staged_subject
from app.services import Services
from app.tenancy.models import Principal

BatchKey = tuple[str, Entity, SourcePlatform | None]


def _append_statement() -> Insert:
    """PostgreSQL: stage records at the end of one of the tenant's jobs that no worker has
    claimed yet, as append_records does, in one statement: the guarded counter update is a CTE
    the insert takes its first position from, so when it matches no job nothing is staged.
    Parameters are named unlike any column: a column's name would also be SET by the update."""
    jobs = cast(Table, IngestJob.__table__)
    staged = cast(Table, StagedRecord.__table__)
    count = bindparam("record_count", type_=Integer)
    job = (
        update(jobs)
        .where(
            jobs.c.id == bindparam("into_job", type_=String),
            jobs.c.client_id == bindparam("of_client", type_=String),
            jobs.c.livemode == bindparam("in_livemode", type_=Boolean),
            jobs.c.status == JobStatus.QUEUED.value,
            jobs.c.attempts == 0,
            jobs.c.received + count <= bindparam("at_most", type_=Integer),
        )
        .values(received=jobs.c.received + count)
        .returning((jobs.c.received - count).label("first_position"))
        .cte("job")
    )
    records = (
        func.unnest(
            bindparam("payload_texts", type_=ARRAY(Text)),
            bindparam("subject_emails", type_=ARRAY(Text)),
            bindparam("subject_ids", type_=ARRAY(Text)),
        )
        .table_valued("payload", "email", "external_id", with_ordinality="ordinality")
        .render_derived()
    )
    rows = select(
        bindparam("into_job", type_=String),
        job.c.first_position + records.c.ordinality - 1,
        bindparam("of_client", type_=String),
        records.c.payload,
        records.c.email,
        records.c.external_id,
    ).select_from(job.join(records, true()))
    return insert(staged).from_select(list(STAGED_COLUMNS), rows)


APPEND_IN_ONE_STATEMENT = _append_statement()


@dataclass
class _Batch:
    principal: Principal
    request_id: str | None
    records: list[Any] = field(default_factory=list)
    waiting: list["asyncio.Future[str]"] = field(default_factory=list)

    def answer(self, job_id: str) -> None:
        for waiting in self.waiting:
            if not waiting.done():
                waiting.set_result(job_id)

    def fail(self, error: Exception) -> None:
        for waiting in self.waiting:
            if not waiting.done():
                waiting.set_exception(error)


@asynccontextmanager
async def _autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")


class IngestBatcher:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._pending: dict[BatchKey, _Batch] = {}
        self._writers: dict[BatchKey, asyncio.Task[None]] = {}
        self._open: dict[BatchKey, str] = {}  # the job the key's last batch went into
        self._one_statement = services.engine.dialect.name == "postgresql"

    async def submit(
        self,
        principal: Principal,
        entity: Entity,
        platform: SourcePlatform | None,
        record: Any,
        request_id: str | None,
    ) -> str:
        """The id of the job the record went into, once that job is committed and dispatched;
        the error of its batch otherwise."""
        key = (principal.key_id, entity, platform)  # key_id: the connection (client and mode)
        batch = self._pending.setdefault(key, _Batch(principal, request_id))
        waiting: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        batch.records.append(record)
        batch.waiting.append(waiting)
        if key not in self._writers:
            self._writers[key] = asyncio.create_task(self._write(key, entity, platform))
        return await waiting

    async def _write(self, key: BatchKey, entity: Entity, platform: SourcePlatform | None) -> None:
        try:
            while key in self._pending:
                await self._write_in_a_row(key, entity, platform)
        finally:
            del self._writers[key]

    async def _write_in_a_row(
        self, key: BatchKey, entity: Entity, platform: SourcePlatform | None
    ) -> None:
        """Batches one after another over one connection while more keep arriving. A failed
        batch fails its deliveries and gives the connection back: the next batch takes another."""
        batch = self._next_batch(key)
        try:
            async with self._connection() as connection:
                while True:
                    batch.answer(await self._write_batch(connection, key, batch, entity, platform))
                    if key not in self._pending:
                        return
                    batch = self._next_batch(key)
        except Exception as error:
            batch.fail(error)

    def _next_batch(self, key: BatchKey) -> _Batch:
        """The key's waiting records, at most a job's worth: the rest waits for the next commit."""
        limit = self._services.settings.max_records_per_call
        batch = self._pending.pop(key)
        if len(batch.records) > limit:
            rest = _Batch(batch.principal, batch.request_id)
            rest.records, batch.records = batch.records[limit:], batch.records[:limit]
            rest.waiting, batch.waiting = batch.waiting[limit:], batch.waiting[:limit]
            self._pending[key] = rest
        return batch

    def _connection(self) -> AbstractAsyncContextManager[AsyncConnection | None]:
        """PostgreSQL: an autocommit connection for one-statement appends. SQLite (one process,
        no network): none, each batch is a transaction of its own session."""
        return _autocommit(self._services.engine) if self._one_statement else nullcontext()

    async def _write_batch(
        self,
        connection: AsyncConnection | None,
        key: BatchKey,
        batch: _Batch,
        entity: Entity,
        platform: SourcePlatform | None,
    ) -> str:
        """The batch joins the key's last job if no worker has claimed it yet, else it becomes a
        new job, dispatched once committed. PostgreSQL joins in one statement on the connection;
        SQLite tries the join and makes the new job in one transaction."""
        last_job = self._open.pop(key, None)
        if connection is None:
            job_id = await self._in_one_transaction(batch, last_job, entity, platform)
        elif last_job is not None and await self._append(connection, batch, last_job, entity):
            job_id = last_job
        else:
            job_id = await self._in_one_transaction(batch, None, entity, platform)
        self._open[key] = job_id
        return job_id

    async def _append(
        self, connection: AsyncConnection, batch: _Batch, job_id: str, entity: Entity
    ) -> bool:
        payloads, _ = serialise_records(batch.records)
        subjects = _subjects(payloads, entity)
        tenant = batch.principal.tenant
        staged = await connection.execute(
            APPEND_IN_ONE_STATEMENT,
            {
                "into_job": job_id,
                "of_client": tenant.client_id,
                "in_livemode": tenant.livemode,
                "record_count": len(payloads),
                "at_most": self._services.settings.max_records_per_call,
                "payload_texts": [payload.decode() for payload in payloads],
                "subject_emails": [email for email, _ in subjects],
                "subject_ids": [external_id for _, external_id in subjects],
            },
        )
        return staged.rowcount > 0

    async def _in_one_transaction(
        self, batch: _Batch, last_job: str | None, entity: Entity, platform: SourcePlatform | None
    ) -> str:
        """Into last_job (if given) when no worker has claimed it yet, else into a new job,
        dispatched once committed."""
        request = IngestRequest(
            entity=entity,
            records=batch.records,
            idempotency_key=None,
            door=Door.WEBHOOK,
            request_id=batch.request_id,
            source_platform=platform,
        )
        limit = self._services.settings.max_records_per_call
        async with self._services.sessions() as session, session.begin():
            if last_job is not None and await append_records(
                session, batch.principal, last_job, batch.records, limit
            ):
                return last_job
            accepted = await accept_ingest(session, batch.principal, request, limit)
        await hand_over(self._services, request, accepted)
        return accepted.job.id


def _subjects(payloads: list[bytes], entity: Entity) -> list[tuple[str | None, str | None]]:
    """The email and id each audience record names, staged for erasure; none for the others."""
    if entity is not Entity.AUDIENCE:
        return [(None, None)] * len(payloads)
    return [staged_subject(payload) for payload in payloads]
