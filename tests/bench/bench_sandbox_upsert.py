"""The Airtable emulator's performUpsert: CPU and rows read per 10-record upsert, by table size,
with the merge index (now) and with the table scan it replaced (before), run on demand.

    .venv/bin/python tests/bench/bench_sandbox_upsert.py [--sizes 1000 20000] [--requests 30]
        [--database-url URL]

For each size, a Products table holds that many records (inserted directly); then --requests
upserts of 10 records each (8 updates of records spread over the table, 2 new) go through the
emulator's service (`update_records` with fieldsToMergeOn ["External ID", "Source"], in the
request's own transaction, as the HTTP route runs it), first down the scan path, then down the
index path (its one-off copy of the field's cells is reported apart). Reported per request: CPU
ms of this process (time.process_time: SQLite runs in-process; on PostgreSQL the server's work is
not in it) and, on PostgreSQL, the rows the request read from the sandbox tables
(pg_stat_xact_user_tables: seq_tup_read + idx_tup_fetch, within the transaction).

Not part of the pytest suite. Default database: a SQLite file in a temporary directory; a
PostgreSQL URL (postgresql+asyncpg://…, an empty database or one migrated by the gateway) runs the
same against PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from app.db.migrate import upgrade_to_head  # noqa: E402
from app.logs import configure_logging  # noqa: E402
from app.sandbox.airtable import merge_index, service  # noqa: E402
from app.sandbox.airtable.ids import new_airtable_id  # noqa: E402
from app.sandbox.airtable.models import SandboxRecord  # noqa: E402
from app.sandbox.airtable.store import TableRef  # noqa: E402
from app.sandbox.airtable.writes import RecordInput, WriteOptions  # noqa: E402
from app.services import Services  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tenancy import service as tenancy  # noqa: E402
from app.tenancy.models import KeyMode, Tenant  # noqa: E402

WORKSPACE = "wspSANDBOX0000001"
PRODUCTS = {
    "name": "Products",
    "fields": [
        {"name": "Name", "type": "singleLineText"},
        {"name": "SKU", "type": "singleLineText"},
        {"name": "Description", "type": "multilineText"},
        {"name": "Price", "type": "number", "options": {"precision": 2}},
        {"name": "External ID", "type": "singleLineText"},
        {"name": "Source", "type": "singleLineText"},
        {"name": "Source Updated At", "type": "singleLineText"},
    ],
}
MERGE_ON = ["External ID", "Source"]
SCAN_ROWS = """SELECT coalesce(sum(seq_tup_read), 0) + coalesce(sum(idx_tup_fetch), 0)
FROM pg_stat_xact_user_tables WHERE relname LIKE 'airtable_%'"""


def _cells(number: int, ids: dict[str, str]) -> dict[str, Any]:
    return {
        ids["Name"]: f"Linen Shirt {number}",
        ids["SKU"]: f"LS-{number:05d}",
        ids["Description"]: "Relaxed fit shirt in washed European linen. Machine wash cold.",
        ids["Price"]: 49.9,
        ids["External ID"]: f"{8072389000 + number}",
        ids["Source"]: "shopify",
        ids["Source Updated At"]: "2026-11-01T10:00:00Z",
    }


async def _table(services: Services, size: int) -> tuple[Tenant, TableRef, dict[str, str]]:
    async with services.sessions() as session, session.begin():
        client = await tenancy.create_client(session, f"Bench {size}")
        await tenancy.create_key(session, client.id, KeyMode.TEST)
        tenant = Tenant(client.id, False)
        created = await service.create_base(
            session, tenant, {"name": "AMS", "workspaceId": WORKSPACE, "tables": [PRODUCTS]}
        )
    [definition] = created["tables"]
    ids = {field["name"]: field["id"] for field in definition["fields"]}
    now = datetime.now(UTC)
    for start in range(0, size, 5000):
        rows = [
            {
                "id": new_airtable_id("rec"),
                "table_id": definition["id"],
                "client_id": tenant.client_id,
                "position": n,
                "fields": _cells(n, ids),
                "created_at": now,
            }
            for n in range(start, min(size, start + 5000))
        ]
        async with services.sessions() as session, session.begin():
            await session.execute(insert(SandboxRecord), rows)
    await _analyze(services)
    return tenant, TableRef(created["id"], definition["id"]), ids


async def _analyze(services: Services) -> None:
    """PostgreSQL: statistics as autovacuum would gather after such inserts (the test server
    runs without autovacuum; without them the planner scans small-looking tables)."""
    async with services.sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("ANALYZE airtable_records, airtable_merge_keys"))


def _batch(size: int, fresh: Iterator[int]) -> list[RecordInput]:
    numbers = [*random.sample(range(size), 8), next(fresh), next(fresh)]
    return [
        RecordInput(
            {
                "External ID": f"{8072389000 + n}",
                "Source": "shopify",
                "Name": f"Linen Shirt {n} v2",
                "Price": 59.9,
            }
        )
        for n in numbers
    ]


async def _upsert(
    services: Services, tenant: Tenant, ref: TableRef, batch: list[RecordInput]
) -> tuple[float, int | None]:
    """One request: (CPU ms, rows read on PostgreSQL or None)."""
    options = WriteOptions(merge_on=MERGE_ON)
    async with services.sessions() as session, session.begin():
        postgres = session.get_bind().dialect.name == "postgresql"
        before = await _rows_read(session) if postgres else 0
        started = time.process_time()
        await service.update_records(session, tenant, ref, batch, options)
        await session.flush()
        cpu = (time.process_time() - started) * 1000
        after = await _rows_read(session) if postgres else None
    return cpu, None if after is None else after - before


async def _rows_read(session: AsyncSession) -> int:
    return int((await session.execute(text(SCAN_ROWS))).scalar() or 0)


@contextmanager
def _scan_only() -> Iterator[None]:
    """The path before the index: no merge text is indexable, upsert scans the table."""
    kept: Callable[[Any], bool] = merge_index.indexable
    merge_index.indexable = lambda value: False  # type: ignore[assignment]
    try:
        yield
    finally:
        merge_index.indexable = kept  # type: ignore[assignment]


def _summary(samples: list[tuple[float, int | None]]) -> dict[str, Any]:
    cpu = [c for c, _ in samples]
    rows = [r for _, r in samples if r is not None]
    return {
        "cpu_ms_median": round(statistics.median(cpu), 2),
        "cpu_ms_p95": round(sorted(cpu)[int(0.95 * (len(cpu) - 1))], 2),
        "rows_read_median": statistics.median(rows) if rows else None,
    }


async def run(sizes: list[int], requests: int, database_url: str) -> list[dict[str, Any]]:
    settings = Settings(database_url=database_url, redis_url=None, log_level="WARNING")
    configure_logging(settings.log_level)
    services = Services.create(settings)
    await upgrade_to_head(services.engine)
    results = []
    try:
        for size in sizes:
            tenant, ref, _ = await _table(services, size)
            fresh = iter(range(size, size + 10 * requests * 3))
            with _scan_only():
                scan = [
                    await _upsert(services, tenant, ref, _batch(size, fresh))
                    for _ in range(requests)
                ]
            first = await _upsert(services, tenant, ref, _batch(size, fresh))  # copies the cells
            await _analyze(services)
            indexed = [
                await _upsert(services, tenant, ref, _batch(size, fresh)) for _ in range(requests)
            ]
            results.append(
                {
                    "rows": size,
                    "before_scan": _summary(scan),
                    "after_index": _summary(indexed),
                    "index_build_cpu_ms": round(first[0], 1),
                    "index_build_rows_read": first[1],
                }
            )
    finally:
        await services.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        for result in asyncio.run(run(args.sizes, args.requests, url)):
            print(result)


if __name__ == "__main__":
    main()
