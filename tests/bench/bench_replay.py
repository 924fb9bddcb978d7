"""Replay benchmark (embedded default shape: SQLite file, in-process jobs), run on demand.

    .venv/bin/python tests/bench/bench_replay.py [--records 10000] [--database-url URL]

1. a client sets a strict rule (sku must be upper case) and pushes --records realistic products
   whose SKUs are lower case: every record is quarantined;
2. the client loosens the rule and replays the whole quarantine (filter by the rule id);
3. the clock runs from the replay call until every replay job has finished; reported: the
   call's own latency, the total time (target < 5 s for 10,000 records), records/s, and the
   process's CPU time over the same span (all threads: the event loop and aiosqlite's). On a
   shared machine the wall time is only as good as the CPU the process got: compare the two.

Not part of the pytest suite. A PostgreSQL URL (postgresql+asyncpg://…, an empty database) runs
the same against PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.contracts.entities import Entity  # noqa: E402
from app.db.migrate import upgrade_to_head  # noqa: E402
from app.ingest.service import IngestRequest, submit_ingest  # noqa: E402
from app.jobs.dispatch import InProcessDispatcher  # noqa: E402
from app.jobs.models import Door  # noqa: E402
from app.logs import configure_logging  # noqa: E402
from app.quarantine.models import QuarantineStatus  # noqa: E402
from app.quarantine.service import QuarantineFilter, replay_quarantined  # noqa: E402
from app.rules.service import set_rules  # noqa: E402
from app.services import Services  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tenancy import service as tenancy  # noqa: E402
from app.tenancy.models import KeyMode, Principal  # noqa: E402
from tests.helpers import shopify_product  # noqa: E402

TARGET_SECONDS = 5.0
PER_CALL = 5000
STRICT = {"id": "sku_format", "kind": "regex", "field": "sku", "pattern": "^[A-Z0-9-]+$"}
LOOSE = {**STRICT, "pattern": "^[A-Za-z0-9-]+$"}


async def _principal(services: Services) -> Principal:
    async with services.sessions() as session, session.begin():
        client = await tenancy.create_client(session, "Bench Shop")
        created = await tenancy.create_key(session, client.id, KeyMode.TEST)
    return Principal(created.key.id, client.id, KeyMode.TEST)


async def _rules(services: Services, principal: Principal, rule: dict[str, str]) -> None:
    async with services.sessions() as session, session.begin():
        await set_rules(session, principal.tenant, Entity.PRODUCT, [rule], principal.key_id)


async def _quarantine_everything(services: Services, principal: Principal, records: int) -> None:
    products = [shopify_product(n, sku=f"ls-{n:06d}") for n in range(records)]
    for start in range(0, records, PER_CALL):
        request = IngestRequest(
            Entity.PRODUCT, products[start : start + PER_CALL], None, Door.GRAPHQL
        )
        await submit_ingest(services, principal, request)
    await _join(services)


async def _join(services: Services) -> None:
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InProcessDispatcher)
    await dispatcher.join()


async def run(records: int, database_url: str) -> dict[str, float]:
    settings = Settings(database_url=database_url, redis_url=None, log_level="WARNING")
    configure_logging(settings.log_level)
    services = Services.create(settings)
    await upgrade_to_head(services.engine)
    await services.start()
    try:
        principal = await _principal(services)
        await _rules(services, principal, STRICT)
        ingest_started = time.perf_counter()
        await _quarantine_everything(services, principal, records)
        ingest = time.perf_counter() - ingest_started
        await _rules(services, principal, LOOSE)

        started, cpu_started = time.perf_counter(), time.process_time()
        where = QuarantineFilter(rule_id="sku_format", status=QuarantineStatus.OPEN)
        async with services.sessions() as session, session.begin():
            jobs = await replay_quarantined(session, principal, None, where)
        await services.dispatcher.dispatch([job.id for job in jobs])
        call = time.perf_counter() - started
        await _join(services)
        total = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        replayed = sum(job.received for job in jobs)
    finally:
        await services.stop()
    if replayed != records:
        raise SystemExit(f"replayed {replayed} of {records} records")
    return {
        "records": records,
        "first_ingest_s": round(ingest, 3),
        "replay_call_s": round(call, 3),
        "total_s": round(total, 3),
        "cpu_s": round(cpu, 3),
        "records_per_s": round(records / total),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        result = asyncio.run(run(args.records, url))
    verdict = "meets" if result["total_s"] < TARGET_SECONDS else "MISSES"
    print(
        f"replay of {result['records']} quarantined records: call {result['replay_call_s']} s, "
        f"done in {result['total_s']} s ({result['records_per_s']} records/s, "
        f"{result['cpu_s']} s of CPU); "
        f"{verdict} the < {TARGET_SECONDS} s target (the first ingest, quarantining all of "
        f"them, took {result['first_ingest_s']} s)"
    )


if __name__ == "__main__":
    main()
