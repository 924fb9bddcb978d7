"""Migration 0035: ingest jobs get a held counter, 0 for the jobs already there, and a
downgrade drops it and keeps the jobs."""

from sqlalchemy import inspect, text

from app.db.engine import create_engine
from tests.integration.test_ams_sync_state_migration import (
    _migrate,
    at_revision_with_a_client,
    empty_database,
)
from tests.integration.test_staged_subjects_migration import JOB

__all__ = ["empty_database"]  # the fixture, a database of this test's own

BEFORE = "0034_staged_subjects"
AFTER = "0035_variation_held"


async def test_jobs_already_there_held_nothing_and_a_downgrade_keeps_them(empty_database):
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await at_revision_with_a_client(connection, BEFORE)
            await connection.execute(text(JOB), {"id": "job_old", "entity": "product"})
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, AFTER)
            await connection.execute(text(JOB), {"id": "job_new", "entity": "product"})
            found = await connection.execute(text("SELECT id, held FROM ingest_jobs ORDER BY id"))
            assert found.all() == [("job_new", 0), ("job_old", 0)]
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, BEFORE)
            columns = await connection.run_sync(
                lambda c: {column["name"] for column in inspect(c).get_columns("ingest_jobs")}
            )
            assert "held" not in columns
            kept = await connection.execute(text("SELECT count(*) FROM ingest_jobs"))
            assert kept.scalar() == 2
    finally:
        await engine.dispose()
