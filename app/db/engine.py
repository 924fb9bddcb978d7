"""Engine and session factory for both shapes: SQLite (embedded) and PostgreSQL (scale-out)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app import exact_json


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by _sqlite_begin_immediate, not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = "gateway_read_only"


def _sqlite_begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once (SQLITE_BUSY) when another
    # connection committed in between; taking the write lock up front makes writers queue instead.
    # Read-only sessions begin deferred: in WAL mode readers never wait for the writer.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return exact_json.dumps(value).decode()


def create_engine(url: str) -> AsyncEngine:
    json_options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        # orjson, not exact_json: PostgreSQL prints a jsonb float such as 1e30 as its 31 digits,
        # which would read back as an integer; an integer beyond 64 bits is never stored
        # (validation refuses it) except in a quarantined attempt, shown rounded then.
        "json_deserializer": orjson.loads,
        # A database error's message would otherwise quote the statement's values (records,
        # emails, phones) into whatever logs it: tracebacks name the statement only.
        "hide_parameters": True,
    }
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **json_options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    engine = create_async_engine(url, pool_size=10, max_overflow=10, **json_options)
    event.listen(engine.sync_engine, "checkout", _replace_if_closed)
    return engine


def _replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """At checkout, a connection the server has closed (restart, terminated backend) is replaced:
    asyncpg knows it without a round trip, where pool_pre_ping took three per checkout (BEGIN,
    ping, ROLLBACK). One closed while in use fails its statement, and SQLAlchemy's disconnect
    handling then replaces every connection older than it."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database server closed this connection")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that only reads: on SQLite it never takes the write lock."""
    async with sessions() as session:
        await session.connection(execution_options={READ_ONLY: True})
        yield session
