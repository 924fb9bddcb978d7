"""`gateway migrate` leaves PostgreSQL with table statistics: without them the planner may choose
plans orders of magnitude slower (the test server runs with autovacuum off, like a fresh one)."""

import asyncpg

from app.cli import refresh_statistics
from app.db.engine import create_engine
from tests.db_work import dsn


async def test_migrate_analyzes_the_postgresql_tables(database_url):
    engine = create_engine(database_url)
    try:
        await refresh_statistics(engine)  # what `gateway migrate` runs after upgrading
    finally:
        await engine.dispose()
    if not database_url.startswith("postgresql"):
        return  # SQLite plans without them well enough: nothing to do, nothing done
    connection = await asyncpg.connect(dsn(database_url))
    try:
        analyzed = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = any($1::text[]) "
            "AND last_analyze IS NOT NULL",
            ["canonical_records", "ams_sync_records", "ingest_jobs"],
        )
    finally:
        await connection.close()
    assert analyzed == 3
