"""Migration 0032: `ams_sync_state.unchanged` is gone (the figure is computed when read), and a
downgrade brings the column back for the rows already there."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import create_engine
from app.db.migrate import alembic_config
from tests.conftest import POSTGRES_URL, require_service

BEFORE = "0031_quarantine_listing"
AFTER = "0032_ams_followups"


@pytest.fixture
async def empty_database(backend: str, tmp_path: Any) -> AsyncIterator[str]:
    """A database of its own (the round trip must not touch the session's shared one)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
        return
    base = require_service(POSTGRES_URL, "postgres")
    name = f"gw_migration_{uuid.uuid4().hex[:10]}"
    admin = base.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


def _columns(connection: Connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("ams_sync_state")}


def _migrate(connection: Connection, revision: str) -> None:
    config = alembic_config(connection)
    current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if current is not None and current > revision:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


async def at_revision_with_a_client(connection: AsyncConnection, revision: str) -> None:
    """The schema upgraded to `revision`, holding one client, cli_1."""
    await connection.run_sync(lambda c: command.upgrade(alembic_config(c), revision))
    await connection.execute(
        text(
            "INSERT INTO clients (id, name, created_at) VALUES ('cli_1', 'Acme', CURRENT_TIMESTAMP)"
        )
    )


async def test_the_dead_unchanged_column_is_dropped_and_comes_back_on_downgrade(empty_database):
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await at_revision_with_a_client(connection, BEFORE)
            await connection.execute(
                text(
                    "INSERT INTO ams_sync_state (client_id, livemode, entity, due_seq, done_seq, "
                    "written, unchanged, rejected, requests, platforms, updated_at) VALUES "
                    "('cli_1', false, 'product', 2, 1, 3, 7, 0, 1, '{}', CURRENT_TIMESTAMP)"
                )
            )
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, AFTER)
            assert "unchanged" not in await connection.run_sync(_columns)
            kept = await connection.execute(text("SELECT due_seq, written FROM ams_sync_state"))
            assert kept.all() == [(2, 3)]
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, BEFORE)
            back = await connection.execute(text("SELECT unchanged, written FROM ams_sync_state"))
            assert back.all() == [(0, 3)]
    finally:
        await engine.dispose()
