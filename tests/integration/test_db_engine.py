"""The PostgreSQL pool hands out live connections without asking the server first: a connection
the server closed (restart, terminated backend) is replaced at checkout, and a live one is handed
out without a ping."""

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine

pytestmark = [pytest.mark.postgres]


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")) or 0)


async def terminate(url: str, pid: int) -> None:
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def until_closed(driver_connection: Any) -> None:
    """asyncpg learns from the socket that the server closed it, once the loop reads it."""
    for _ in range(200):
        if driver_connection.is_closed():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("asyncpg never saw the connection closed")


async def test_a_connection_the_server_closed_is_replaced_when_checked_out(
    postgres_database: str,
) -> None:
    engine = create_engine(postgres_database)
    checked_in: list[Any] = []
    event.listen(engine.sync_engine, "checkin", lambda dbapi, _record: checked_in.append(dbapi))
    try:
        first = await backend_pid(engine)
        await terminate(postgres_database, first)
        await until_closed(checked_in[-1].driver_connection)

        assert await backend_pid(engine) != first  # no error: a new connection was opened
    finally:
        await engine.dispose()


async def test_a_live_connection_is_checked_out_without_a_round_trip(
    postgres_database: str,
) -> None:
    engine = create_engine(postgres_database)
    sent: list[str] = []
    try:
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            driver.add_query_logger(lambda record: sent.append(record.query))
        first = await backend_pid(engine)

        assert await backend_pid(engine) == first  # the same pooled connection
        # each use is its transaction's BEGIN and ROLLBACK: no ping before it
        assert sent == ["BEGIN;", "ROLLBACK;"] * 2
    finally:
        await engine.dispose()
