"""Counting the database work of code under test, not its time: statements sent, SQLite
virtual-machine instructions run (the engine's own measure of rows visited and compared), and
rows PostgreSQL read from given tables. Used by tests and benchmarks of query shapes."""

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from app.db.engine import _json_dumps, create_engine

VM_STEPS_PER_CALL = 1000


class Work:
    """Statements sent and (SQLite) VM instructions run by one engine's connections; attach it
    before the engine opens its first connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements = 0
        self.vm_steps = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", self._watch_vm)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _step(self) -> int:
        self.vm_steps += VM_STEPS_PER_CALL
        return 0

    def _watch_vm(self, dbapi_connection: Any, _: Any) -> None:
        inner = dbapi_connection._connection  # aiosqlite: sqlite3 runs on its own thread
        setter = inner._conn.set_progress_handler
        await_only(inner._execute(setter, self._step, VM_STEPS_PER_CALL))

    def snapshot(self) -> tuple[int, int]:
        return self.statements, self.vm_steps


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def named_engine(url: str, application: str) -> AsyncEngine:
    """The app's engine; on PostgreSQL its connections carry `application` as their name."""
    if not url.startswith("postgresql"):
        return create_engine(url)
    return create_async_engine(
        url,
        connect_args={"server_settings": {"application_name": application}},
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


async def pg_rows_read(url: str, tables: Sequence[str], application: str) -> dict[str, int]:
    """Rows read from each of `tables` (sequential reads + index fetches), once no connection
    named `application` is left: a backend flushes its counters before it leaves
    pg_stat_activity."""
    connection = await asyncpg.connect(dsn(url))
    try:
        deadline = time.monotonic() + 30
        while await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"connections named {application} are still open")
            await asyncio.sleep(0.05)
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        found = await connection.fetch(
            "SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS read "
            "FROM pg_stat_user_tables WHERE relname = any($1::text[])",
            list(tables),
        )
        return {row["relname"]: int(row["read"]) for row in found}
    finally:
        await connection.close()
