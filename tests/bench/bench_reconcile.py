"""Reconciliation benchmark: a full audit of a 10,000-record client against the gateway's own
Airtable emulator with its real limits (5 requests/s per base, 30-second penalty), run on demand:

    .venv/bin/python tests/bench/bench_reconcile.py [--records 10000]

The gateway runs as its own `gateway serve` process on a fresh SQLite file. The client's catalog
is seeded as a finished sync leaves it — canonical records, sync bookkeeping and the same rows in
the emulator's table (syncing 10,000 rows through the emulator's O(table) upserts would take most
of an hour, and is measured by bench_ams_write) — then a few rows are tampered with (edited,
deleted, duplicated). Timed through the operator's `reconcile` mutation over HTTP:

1. a full run (every record, the whole table read in pages of 100): target <= 30 s, and it must
   find exactly the tampered rows;
2. a sample run (the default of the daily audit).

Prints a report and writes tests/bench/results/reconcile-<timestamp>.json. Not part of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app.ams.fieldmap import table_maps  # noqa: E402
from app.ams.service import AmsRuntime  # noqa: E402
from app.contracts.entities import Entity  # noqa: E402
from app.provisioning import service as provisioning  # noqa: E402
from app.records.validation import ValidRecord  # noqa: E402
from app.sandbox.airtable.cells import CellWriter  # noqa: E402
from app.sandbox.airtable.models import SandboxRecord, SandboxTable  # noqa: E402
from app.tenancy import service as tenancy  # noqa: E402
from app.tenancy.models import KeyMode, Role, Tenant  # noqa: E402
from tests.bench.bench_ams_write import (  # noqa: E402
    catalog,
    gateway_process,
    migrated,
    new_client,
    runtime_for,
    seed_synced,
    settings_for,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_FULL_SECONDS = 30.0
EDITED, DELETED, DOUBLED = range(0, 10), range(100, 105), range(200, 203)
RECONCILE = """mutation($input: ReconcileInput!) { reconcile(input: $input) {
  errors { code message }
  run { status error population checked rowsRead missing extra duplicate field airtableRequests }
} }"""


async def seed_rows(runtime: AmsRuntime, tenant: Tenant, records: list[ValidRecord]) -> None:
    """The emulator's Products table as the sync would have left it (ids as in seed_synced),
    less the deleted rows, with edited and duplicated ones."""
    table_map = table_maps(runtime.settings.contracts_dir)[Entity.PRODUCT]
    now = datetime.now(UTC)
    async with runtime.sessions() as session, session.begin():
        table = await session.scalar(
            select(SandboxTable).where(
                SandboxTable.client_id == tenant.client_id, SandboxTable.name == "Products"
            )
        )
        assert table is not None
        fields = {f["name"]: f for f in table.definition["fields"]}
        writer = CellWriter(typecast=True)
        rows = []
        for n, record in enumerate(records):
            cells = table_map.content(record.data) | table_map.sync_values(
                record.data, now.isoformat()
            )
            if n in EDITED:
                cells["Name"] = "Edited by hand"
            stored = {
                fields[name]["id"]: value
                for name, raw in cells.items()
                if (value := writer.write(fields[name], raw, None)) is not None
            }
            copies = [f"rec{n:014d}"] + ([f"recdup{n:011d}"] if n in DOUBLED else [])
            rows += [
                SandboxRecord(
                    id=row_id,
                    table_id=table.id,
                    client_id=tenant.client_id,
                    position=len(rows) + i,
                    fields=stored,
                    created_at=now,
                )
                for i, row_id in enumerate(copies)
                if n not in DELETED
            ]
        session.add_all(rows)


async def operator_secret(runtime: AmsRuntime) -> str:
    async with runtime.sessions() as session, session.begin():
        created = await tenancy.create_key(session, None, KeyMode.TEST, Role.OPERATOR)
    return created.secret


async def timed_run(url: str, operator: str, client_id: str, full: bool) -> dict[str, Any]:
    variables = {"input": {"client": client_id, "entity": "PRODUCT", "full": full}}
    headers = {"Authorization": f"Bearer {operator}"}
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        started = time.perf_counter()
        response = await client.post(
            "/graphql", json={"query": RECONCILE, "variables": variables}, headers=headers
        )
        seconds = time.perf_counter() - started
    payload = response.json()["data"]["reconcile"]
    assert payload["errors"] == [], payload
    return {"seconds": round(seconds, 2), **payload["run"]}


async def bench(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        settings = settings_for(Path(directory), "reconcile")
        await migrated(settings)
        runtime, _ = runtime_for(settings)
        with gateway_process(settings):
            tenant, _ = await new_client(runtime, "Bench Reconcile")
            await provisioning.provision(runtime, tenant)
            records = catalog(count)
            await seed_synced(runtime, tenant, records)
            await seed_rows(runtime, tenant, records)
            operator = await operator_secret(runtime)
            full = await timed_run(settings.sandbox_url, operator, tenant.client_id, True)
            sample = await timed_run(settings.sandbox_url, operator, tenant.client_id, False)
        await runtime.sessions.kw["bind"].dispose()
    expected = {"missing": len(DELETED), "duplicate": len(DOUBLED), "field": len(EDITED)}
    return {
        "records": count,
        "full": full,
        "sample": sample,
        "full_found_exactly_the_tampering": all(full[k] == v for k, v in expected.items())
        and full["extra"] == 0,
        "full_within_target": full["seconds"] <= TARGET_FULL_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    report = asyncio.run(bench(parser.parse_args().records))
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"reconcile-{stamp}.json").write_bytes(
        orjson.dumps(report, option=orjson.OPT_INDENT_2)
    )


if __name__ == "__main__":
    main()
