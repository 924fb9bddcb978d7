"""Erasure benchmark: erasing one person among --records audience records, run on demand.

    .venv/bin/python tests/bench/bench_erasure.py [--records 1000000] [--database-url URL]

1. one client gets --records audience people, each with a canonical record, a staged raw payload
   (one job per 5,000), AMS sync bookkeeping, and one in a hundred a quarantine entry, a record
   error and a record-history row (a resolved conflict): written
   with set-based SQL (generate_series / a recursive CTE) through the migrated schema, so every
   index the ingest path maintains is there;
2. people are erased by email, phone and external id through the service (app.privacy.service),
   each timed from the call to the completed run (the AMS round trip excluded: these people have
   no Airtable row; it adds one paced DELETE per 10 rows);
3. every statement the erasure ran is shown with its query plan (EXPLAIN QUERY PLAN on SQLite,
   EXPLAIN on PostgreSQL): each must be an index search, never a scan of a big table.

Target: < 1 s per person at 1,000,000 records. Not part of the pytest suite. A PostgreSQL URL
(postgresql+asyncpg://…, an empty database) runs the same against PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402

from app.db.migrate import upgrade_to_head  # noqa: E402
from app.logs import configure_logging  # noqa: E402
from app.privacy.identifiers import IdentifierKind, Subject  # noqa: E402
from app.privacy.service import erase_subject  # noqa: E402
from app.services import Services  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tenancy import service as tenancy  # noqa: E402
from app.tenancy.models import KeyMode, Principal  # noqa: E402

TARGET_SECONDS = 1.0
PER_JOB = 5000
BIG_TABLES = (
    "canonical_records",
    "staged_records",
    "quarantined_records",
    "ams_sync_records",
    "record_errors",
    "record_resolutions",
)

# {n}: the number of people; :client / :job_prefix bound. One statement per table and dialect.
POSTGRES_FILL = [
    """INSERT INTO ingest_jobs (id, client_id, livemode, entity, door, status, request_hash,
         received, valid, quarantined, unchanged, stale, written, processed, attempts, created_at)
       SELECT 'job_' || j, :client, false, 'audience', 'graphql', 'SUCCEEDED', md5(j::text),
         0, 0, 0, 0, 0, 0, 0, 1, now()
       FROM generate_series(0, {jobs}) AS j""",
    """INSERT INTO canonical_records (id, client_id, livemode, entity, source_platform,
         external_id, data, content_hash, source_updated_at, version, last_job_id, created_at,
         updated_at)
       SELECT 'rec_' || i, :client, false, 'audience', 'shopify', 'cus-' || i,
         jsonb_build_object('external_id', 'cus-' || i, 'source_platform', 'shopify',
           'email', 'person' || i || '@example.com', 'phone', '+4420' || lpad(i::text, 8, '0'),
           'first_name', 'Person', 'last_name', 'Number ' || i, 'country', 'GB'),
         md5(i::text), now(), 1, 'job_' || (i / {per_job}), now(), now()
       FROM generate_series(1, {n}) AS i""",
    """INSERT INTO staged_records (job_id, position, client_id, payload, subject_email,
         subject_external_id)
       SELECT 'job_' || (i / {per_job}), i % {per_job}, :client,
         '{{"country":"GB","email":"Person' || i || '@Example.com","external_id":"cus-' || i ||
         '","first_name":"Person","phone":"+44 20 ' || lpad(i::text, 8, '0') ||
         '","source_platform":"shopify","source_updated_at":"2026-11-01T10:00:00Z"}}',
         'person' || i || '@example.com', 'cus-' || i
       FROM generate_series(1, {n}) AS i""",
    """INSERT INTO ams_sync_records (id, client_id, livemode, entity, source_platform,
         external_id, content_hash, map_version, field_hashes, status, updated_at)
       SELECT 'ams_' || i, :client, false, 'audience', 'shopify', 'cus-' || i, md5(i::text), 2,
         '{{}}', 'synced', now()
       FROM generate_series(1, {n}) AS i""",
    """INSERT INTO quarantined_records (id, client_id, livemode, job_id, position, entity,
         source_platform, external_id, status, errors, rule_ids, attempts, created_at, updated_at)
       SELECT 'qr_' || i, :client, false, 'job_' || (i / {per_job}), i % {per_job},
         'audience', 'shopify', 'cus-' || i, 'OPEN', '[]', '', 1, now(), now()
       FROM generate_series(1, {n}, 100) AS i""",
    """INSERT INTO record_errors (job_id, client_id, position, external_id, code, path, message)
       SELECT 'job_' || (i / {per_job}), :client, i % {per_job}, 'cus-' || i, 'invalid_country',
         'country', 'Not a country.'
       FROM generate_series(1, {n}, 100) AS i""",
    """INSERT INTO record_resolutions (id, client_id, livemode, entity, source_platform,
         external_id, kind, field, detail, created_at)
       SELECT 'res_' || i, :client, false, 'audience', 'shopify', 'cus-' || i, 'consent_kept',
         'email_consent', '{{}}', now()
       FROM generate_series(1, {n}, 100) AS i""",
]
SQLITE_SEQ = (
    "WITH RECURSIVE seq(i) AS (SELECT {first} UNION ALL SELECT i + {step} FROM seq "
    "WHERE i + {step} <= {last}) "
)
SQLITE_NOW = "'2026-11-01 10:00:00.000000'"
SQLITE_FILL = [
    SQLITE_SEQ.format(first=0, step=1, last="{jobs}")
    + f"""INSERT INTO ingest_jobs (id, client_id, livemode, entity, door, status, request_hash,
         received, valid, quarantined, unchanged, stale, written, processed, attempts, created_at)
       SELECT 'job_' || i, :client, 0, 'audience', 'graphql', 'SUCCEEDED', i, 0, 0, 0, 0,
         0, 0, 0, 1, {SQLITE_NOW} FROM seq""",
    SQLITE_SEQ.format(first=1, step=1, last="{n}")
    + f"""INSERT INTO canonical_records (id, client_id, livemode, entity, source_platform,
         external_id, data, content_hash, source_updated_at, version, last_job_id, created_at,
         updated_at)
       SELECT 'rec_' || i, :client, 0, 'audience', 'shopify', 'cus-' || i,
         json_object('external_id', 'cus-' || i, 'source_platform', 'shopify',
           'email', 'person' || i || '@example.com', 'phone', '+4420' || printf('%08d', i),
           'first_name', 'Person', 'last_name', 'Number ' || i, 'country', 'GB'),
         i, {SQLITE_NOW}, 1, 'job_' || (i / {{per_job}}), {SQLITE_NOW}, {SQLITE_NOW}
       FROM seq""",
    SQLITE_SEQ.format(first=1, step=1, last="{n}")
    + """INSERT INTO staged_records (job_id, position, client_id, payload, subject_email,
         subject_external_id)
       SELECT 'job_' || (i / {per_job}), i % {per_job}, :client,
         json_object('country', 'GB', 'email', 'Person' || i || '@Example.com',
           'external_id', 'cus-' || i, 'first_name', 'Person',
           'phone', '+44 20 ' || printf('%08d', i), 'source_platform', 'shopify',
           'source_updated_at', '2026-11-01T10:00:00Z'),
         'person' || i || '@example.com', 'cus-' || i
       FROM seq""",
    SQLITE_SEQ.format(first=1, step=1, last="{n}")
    + f"""INSERT INTO ams_sync_records (id, client_id, livemode, entity, source_platform,
         external_id, content_hash, map_version, field_hashes, status, updated_at)
       SELECT 'ams_' || i, :client, 0, 'audience', 'shopify', 'cus-' || i, i, 2, '{{{{}}}}',
         'synced', {SQLITE_NOW} FROM seq""",
    SQLITE_SEQ.format(first=1, step=100, last="{n}")
    + f"""INSERT INTO quarantined_records (id, client_id, livemode, job_id, position, entity,
         source_platform, external_id, status, errors, rule_ids, attempts, created_at, updated_at)
       SELECT 'qr_' || i, :client, 0, 'job_' || (i / {{per_job}}), i % {{per_job}},
         'audience', 'shopify', 'cus-' || i, 'OPEN', '[]', '', 1, {SQLITE_NOW}, {SQLITE_NOW}
       FROM seq""",
    SQLITE_SEQ.format(first=1, step=100, last="{n}")
    + """INSERT INTO record_errors (job_id, client_id, position, external_id, code, path, message)
       SELECT 'job_' || (i / {per_job}), :client, i % {per_job}, 'cus-' || i, 'invalid_country',
         'country', 'Not a country.' FROM seq""",
    SQLITE_SEQ.format(first=1, step=100, last="{n}")
    + f"""INSERT INTO record_resolutions (id, client_id, livemode, entity, source_platform,
         external_id, kind, field, detail, created_at)
       SELECT 'res_' || i, :client, 0, 'audience', 'shopify', 'cus-' || i, 'consent_kept',
         'email_consent', '{{{{}}}}', {SQLITE_NOW} FROM seq""",
]


async def _principal(services: Services) -> Principal:
    async with services.sessions() as session, session.begin():
        client = await tenancy.create_client(session, "Bench Audience")
        created = await tenancy.create_key(session, client.id, KeyMode.TEST)
    return Principal(created.key.id, client.id, KeyMode.TEST)


async def _fill(services: Services, principal: Principal, people: int) -> float:
    dialect = services.engine.dialect.name
    statements = POSTGRES_FILL if dialect == "postgresql" else SQLITE_FILL
    values = {"client": principal.client_id}
    started = time.perf_counter()
    async with services.engine.begin() as connection:
        for statement in statements:
            sql = statement.format(n=people, jobs=people // PER_JOB, per_job=PER_JOB)
            await connection.execute(text(sql), values)
        await connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


class Statements:
    """Every statement the erasure sends, with its parameters, to explain afterwards."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE")):
            self.seen.append((statement, parameters))


async def _plans(services: Services, seen: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    postgres = services.engine.dialect.name == "postgresql"
    prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    plans = []
    async with services.engine.connect() as connection:
        for statement, parameters in seen:
            if "ams_sync_state" in statement or "FROM clients" in statement:
                continue
            result = await connection.exec_driver_sql(prefix + statement, parameters)
            lines = [str(row[-1]) for row in result.all()]
            plans.append((" ".join(statement.split())[:160], "\n      ".join(lines)))
    return plans


def _scans(plans: list[tuple[str, str]]) -> list[str]:
    """Plans that read a big table whole (SQLite 'SCAN t', PostgreSQL 'Seq Scan on t')."""
    bad = []
    for statement, plan in plans:
        for table in BIG_TABLES:
            if f"SCAN {table}" in plan and "USING" not in plan.split(f"SCAN {table}")[1][:40]:
                bad.append(statement)
            if f"Seq Scan on {table}" in plan:
                bad.append(statement)
    return bad


async def run(people: int, database_url: str) -> dict[str, Any]:
    settings = Settings(
        database_url=database_url, redis_url=None, log_level="WARNING", secret_key="bench"
    )
    configure_logging(settings.log_level)
    services = Services.create(settings)
    await upgrade_to_head(services.engine)
    principal = await _principal(services)
    fill = await _fill(services, principal, people)
    middle = people // 2
    subjects = [
        Subject(IdentifierKind.EMAIL, f"person{middle + 1}@example.com"),
        Subject(IdentifierKind.PHONE, f"+4420{middle + 201:08d}"),
        Subject(IdentifierKind.EXTERNAL_ID, f"cus-{middle + 301}"),  # quarantined too (…01)
    ]
    statements = Statements()
    timings = []
    for subject in subjects:
        event.listen(services.engine.sync_engine, "before_cursor_execute", statements)
        started = time.perf_counter()
        receipt = await erase_subject(services, principal, subject)
        timings.append(time.perf_counter() - started)
        event.remove(services.engine.sync_engine, "before_cursor_execute", statements)
        if not receipt.completed or receipt.run.removed["canonical_records"] != 1:
            raise SystemExit(f"erasure did not complete: {receipt.run.removed}")
    plans = await _plans(services, statements.seen)
    await services.engine.dispose()
    return {
        "people": people,
        "fill_s": round(fill, 1),
        "timings_ms": [round(t * 1000, 1) for t in timings],
        "plans": plans,
        "scans": _scans(plans),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--plans", action="store_true", help="print every statement's plan")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        result = asyncio.run(run(args.records, url))
    if args.plans:
        for statement, plan in result["plans"]:
            print(f"  {statement}\n      {plan}")
    worst = max(result["timings_ms"]) / 1000
    verdict = "meets" if worst < TARGET_SECONDS and not result["scans"] else "MISSES"
    print(
        f"erasing one person among {result['people']:,} audience records (by email, phone, "
        f"external id): {result['timings_ms']} ms (AMS round trip excluded); "
        f"{len(result['plans'])} statements, table scans: {result['scans'] or 'none'}; "
        f"{verdict} the < {TARGET_SECONDS} s target (filling took {result['fill_s']} s)"
    )


if __name__ == "__main__":
    main()
