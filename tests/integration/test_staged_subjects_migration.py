"""Migration 0034: staged audience payloads get their email and id in columns (read once from
the payloads already staged, whatever their shape), products get none, and a downgrade brings
the expression indexes back."""

from sqlalchemy import text

from app.db.engine import create_engine
from tests.integration.test_ams_sync_state_migration import (
    _migrate,
    at_revision_with_a_client,
    empty_database,
)

__all__ = ["empty_database"]  # the fixture, a database of this test's own

BEFORE = "0033_partial_updates"
AFTER = "0034_staged_subjects"
JOB = (
    "INSERT INTO ingest_jobs (id, client_id, livemode, entity, door, status, request_hash, "
    "received, valid, quarantined, unchanged, stale, written, processed, attempts, created_at) "
    "VALUES (:id, 'cli_1', false, :entity, 'rest', 'SUCCEEDED', 'h', 1, 0, 0, 0, 0, 0, 0, 1, "
    "CURRENT_TIMESTAMP)"
)
STAGED = (
    "INSERT INTO staged_records (job_id, position, client_id, payload) "
    "VALUES (:job, :position, 'cli_1', :payload)"
)


async def test_staged_subjects_are_backfilled_for_people_only(empty_database):
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await at_revision_with_a_client(connection, BEFORE)
            await connection.execute(text(JOB), {"id": "job_a", "entity": "audience"})
            await connection.execute(text(JOB), {"id": "job_p", "entity": "product"})
            hubspot = '{"id": "5101", "properties": {"email": "Ada@Example.com"}}'
            standard = '{"email": "bob@example.com", "external_id": "cus-2"}'
            await connection.execute(
                text(STAGED),
                [
                    {"job": "job_a", "position": 0, "payload": hubspot},
                    {"job": "job_a", "position": 1, "payload": standard},
                    {"job": "job_p", "position": 0, "payload": '{"id": "p-1", "email": "x@y.z"}'},
                ],
            )
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, AFTER)
            found = await connection.execute(
                text(
                    "SELECT job_id, position, subject_email, subject_external_id "
                    "FROM staged_records ORDER BY job_id, position"
                )
            )
            assert found.all() == [
                ("job_a", 0, "ada@example.com", "5101"),
                ("job_a", 1, "bob@example.com", "cus-2"),
                ("job_p", 0, None, None),
            ]
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, BEFORE)
            kept = await connection.execute(text("SELECT count(*) FROM staged_records"))
            assert kept.scalar() == 3
    finally:
        await engine.dispose()
