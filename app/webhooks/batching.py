"""Group commit for webhook records: single-record deliveries for the same connection, entity
and platform that arrive while an earlier batch is being committed join the next batch, which is
written in one transaction. An idle gateway writes each delivery at once; a busy one writes many
per commit instead of queueing commits.

A batch goes into the job the previous batch went into while no worker has claimed that job yet,
and into a new job (committed, then dispatched) otherwise. So an idle worker gets each delivery
at once, and a busy one finds everything that arrived meanwhile in one job: the per-job work
(claim, rules, finish, events, AMS sync) is paid per worker turn, not per delivery."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.ingest.service import IngestRequest, accept_ingest, append_records, hand_over
from app.jobs.models import Door
from app.services import Services
from app.tenancy.models import Principal

BatchKey = tuple[str, Entity, SourcePlatform | None]


@dataclass
class _Batch:
    principal: Principal
    request_id: str | None
    records: list[Any] = field(default_factory=list)
    waiting: list["asyncio.Future[str]"] = field(default_factory=list)


class IngestBatcher:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._pending: dict[BatchKey, _Batch] = {}
        self._writers: dict[BatchKey, asyncio.Task[None]] = {}
        self._open: dict[BatchKey, str] = {}  # the job the key's last batch went into

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
        limit = self._services.settings.max_records_per_call
        try:
            while key in self._pending:
                batch = self._pending.pop(key)
                if len(batch.records) > limit:  # the rest waits for the next commit
                    rest = _Batch(batch.principal, batch.request_id)
                    rest.records, batch.records = batch.records[limit:], batch.records[:limit]
                    rest.waiting, batch.waiting = batch.waiting[limit:], batch.waiting[:limit]
                    self._pending[key] = rest
                await self._commit(key, batch, entity, platform)
        finally:
            del self._writers[key]

    async def _commit(
        self, key: BatchKey, batch: _Batch, entity: Entity, platform: SourcePlatform | None
    ) -> None:
        try:
            job_id = await self._write_batch(key, batch, entity, platform)
        except Exception as error:
            for waiting in batch.waiting:
                if not waiting.done():
                    waiting.set_exception(error)
            return
        for waiting in batch.waiting:
            if not waiting.done():
                waiting.set_result(job_id)

    async def _write_batch(
        self, key: BatchKey, batch: _Batch, entity: Entity, platform: SourcePlatform | None
    ) -> str:
        """One transaction: the batch joins the key's last job if no worker has claimed it yet,
        else it becomes a new job, dispatched once committed."""
        request = IngestRequest(
            entity=entity,
            records=batch.records,
            idempotency_key=None,
            door=Door.WEBHOOK,
            request_id=batch.request_id,
            source_platform=platform,
        )
        limit = self._services.settings.max_records_per_call
        last_job = self._open.pop(key, None)
        async with self._services.sessions() as session, session.begin():
            if last_job is not None and await append_records(
                session, batch.principal, last_job, batch.records, limit
            ):
                self._open[key] = last_job
                return last_job
            accepted = await accept_ingest(session, batch.principal, request, limit)
        await hand_over(self._services, request, accepted)
        self._open[key] = accepted.job.id
        return accepted.job.id
