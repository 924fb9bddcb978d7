"""What one AMS sync pass costs after a one-record change, by catalogue size, run on demand:

    .venv/bin/python tests/bench/bench_sync_pass.py [--records 10000 100000] [--postgres]
        [--archived 100] [--archivals-unanalysed]

Per size: a fresh database (SQLite file, or with --postgres a throwaway database on
GATEWAY_TEST_POSTGRES_URL), the gateway (and so the Airtable emulator) as its own `gateway serve`
process, a catalogue stored and recorded as synced (`seed_synced`), one pass that provisions the
base, then one record changed and the pass measured. With --archived N, N records (the last
ones) are archived and their rows show it, as a finished sync leaves them (the pass has no
archival to write, only to find that none is due). On PostgreSQL the tables are analysed first,
as `gateway migrate` leaves them; with --archivals-unanalysed only the catalogue tables are, as a
bulk import's sync leaves them (archivals made since have no planner statistics):

- statements: SQL statements the pass sent;
- cpu_ms: CPU time of this process during the pass (`time.process_time`; with SQLite it includes
  the database engine, which runs in this process);
- sqlite_vm_steps: SQLite virtual-machine instructions the pass ran (the engine's own count of
  rows visited and compared; a progress handler called every 1,000 instructions);
- pg_rows_read: with --postgres, rows PostgreSQL read from canonical_records and
  ams_sync_records (sequential + index fetches, from pg_stat_user_tables once the pass's
  connections are closed).

Prints a report and writes tests/bench/results/sync-pass-<timestamp>.json. Not part of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import orjson  # noqa: E402
from sqlalchemy import select, text, update  # noqa: E402

from app.ams.archival import archive_records  # noqa: E402
from app.ams.due import mark_sync_due  # noqa: E402
from app.ams.models import AmsSyncRecord, ArchivedRecord  # noqa: E402
from app.ams.pacing import make_pacer  # noqa: E402
from app.ams.service import AmsRuntime, run_sync  # noqa: E402
from app.contracts.entities import Entity  # noqa: E402
from app.db.engine import create_session_factory  # noqa: E402
from app.records.service import upsert  # noqa: E402
from app.records.validation import ValidRecord, validate_record  # noqa: E402
from app.tenancy.models import Tenant  # noqa: E402
from tests.bench.bench_ams_write import (  # noqa: E402
    catalog,
    gateway_process,
    migrated,
    new_client,
    seed_synced,
    settings_for,
)
from tests.db_work import Work, named_engine, pg_rows_read  # noqa: E402
from tests.helpers import shopify_product  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MEASURED_TABLES = ("canonical_records", "ams_sync_records")
ANALYZED = (*MEASURED_TABLES, "archived_records")


@contextmanager
def postgres_database() -> Iterator[str]:
    base = os.environ["GATEWAY_TEST_POSTGRES_URL"]
    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    admin = base.replace("postgresql+asyncpg://", "postgresql://")

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _changed(record: ValidRecord) -> ValidRecord:
    data = orjson.loads(orjson.dumps(shopify_product(0, updated_at="2026-11-03T10:00:00Z")))
    data["name"] = "Renamed by the benchmark"
    found = validate_record(Entity.PRODUCT, orjson.dumps(data))
    assert isinstance(found, ValidRecord) and found.external_id == record.external_id
    return found


async def one_size(
    directory: Path, count: int, database_url: str | None, archived: int, analysed: tuple[str, ...]
) -> dict[str, Any]:
    settings = settings_for(directory, f"pass-{count}")
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url})
    await migrated(settings)
    application = f"bench-pass-{uuid.uuid4().hex[:6]}"
    with gateway_process(settings):
        engine = named_engine(settings.database_url, application)
        work = Work(engine)
        runtime = AmsRuntime(settings, create_session_factory(engine), make_pacer(settings))
        try:
            tenant, _ = await new_client(runtime, "Bench")
            records = catalog(count)
            await seed_synced(runtime, tenant, records)
            await seed_archived(runtime, tenant, records[count - archived :] if archived else [])
            if database_url is not None:  # planner statistics, as `gateway migrate` leaves them
                async with runtime.sessions() as session, session.begin():
                    await session.execute(text(f"ANALYZE {', '.join(analysed)}"))
            async with runtime.sessions() as session, session.begin():
                await mark_sync_due(session, tenant, Entity.PRODUCT)
            assert await run_sync(runtime, tenant, Entity.PRODUCT) is not None  # provisions
            await change_one(runtime, tenant, records[0])
            measured = await measured_pass(runtime, tenant, work, settings, application)
        finally:
            await runtime.close()
            await engine.dispose()
    return {"records": count, "archived": archived} | measured


async def seed_archived(runtime: AmsRuntime, tenant: Tenant, records: list[ValidRecord]) -> None:
    """These records archived, their rows showing the archival."""
    keys = [(record.source_platform, record.external_id) for record in records]
    async with runtime.sessions() as session, session.begin():
        await archive_records(session, tenant, Entity.PRODUCT, keys)
        shown = (
            select(ArchivedRecord.archived_at)
            .where(
                ArchivedRecord.client_id == AmsSyncRecord.client_id,
                ArchivedRecord.livemode == AmsSyncRecord.livemode,
                ArchivedRecord.entity == AmsSyncRecord.entity,
                ArchivedRecord.source_platform == AmsSyncRecord.source_platform,
                ArchivedRecord.external_id == AmsSyncRecord.external_id,
            )
            .scalar_subquery()
        )
        await session.execute(
            update(AmsSyncRecord)
            .where(
                AmsSyncRecord.client_id == tenant.client_id,
                AmsSyncRecord.livemode == tenant.livemode,
            )
            .values(archived_at=shown)
        )


async def change_one(runtime: AmsRuntime, tenant: Tenant, record: ValidRecord) -> None:
    async with runtime.sessions() as session, session.begin():
        await upsert(session, tenant, Entity.PRODUCT, "job_bench_change", [_changed(record)])
        await mark_sync_due(session, tenant, Entity.PRODUCT)


async def measured_pass(
    runtime: AmsRuntime, tenant: Tenant, work: Work, settings: Any, application: str
) -> dict[str, Any]:
    postgres = settings.database_url.startswith("postgresql")
    engine = runtime.sessions.kw["bind"]
    if postgres:  # closed, so every earlier counter is flushed before the baseline
        await engine.dispose()
        before = await pg_rows_read(settings.database_url, MEASURED_TABLES, application)
    statements, steps = work.snapshot()
    cpu = time.process_time()
    run = await run_sync(runtime, tenant, Entity.PRODUCT)
    cpu_ms = round((time.process_time() - cpu) * 1000, 1)
    assert run is not None and run.written == 1, run
    result: dict[str, Any] = {
        "written": run.written,
        "statements": work.statements - statements,
        "cpu_ms": cpu_ms,
    }
    if postgres:
        await engine.dispose()
        after = await pg_rows_read(settings.database_url, MEASURED_TABLES, application)
        result["pg_rows_read"] = {table: after[table] - before[table] for table in after}
    else:
        result["sqlite_vm_steps"] = work.vm_steps - steps
    return result


def main(arguments: argparse.Namespace) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-sync-pass-") as scratch:
        archived = arguments.archived
        analysed = MEASURED_TABLES if arguments.archivals_unanalysed else ANALYZED
        for count in arguments.records:
            if arguments.postgres:
                with postgres_database() as url:
                    run = one_size(Path(scratch), count, url, archived, analysed)
                    results.append(asyncio.run(run))
            else:
                results.append(asyncio.run(one_size(Path(scratch), count, None, archived, ())))
            print(orjson.dumps(results[-1]).decode(), flush=True)
    return {
        "database": "postgresql" if arguments.postgres else "sqlite",
        "analysed": list(analysed) if arguments.postgres else [],
        "load_average": os.getloadavg(),
        "passes": results,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--archived", type=int, default=0)
    parser.add_argument("--archivals-unanalysed", action="store_true")
    parser.add_argument("--label", default="")
    report = main(parser.parse_args()) | {"label": parser.parse_args().label}
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"sync-pass-{stamp}.json").write_bytes(
        orjson.dumps(report, option=orjson.OPT_INDENT_2)
    )
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
