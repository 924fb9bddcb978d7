"""Alembic, driven from code: `gateway migrate`, `serve` on an empty embedded database, tests."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _has_tables(connection: Connection) -> bool:
    return bool(inspect(connection).get_table_names())


async def upgrade_to_head(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return not await connection.run_sync(_has_tables)
