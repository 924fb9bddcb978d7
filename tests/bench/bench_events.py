"""Event delivery benchmark, run on demand (not part of the pytest suite).

    .venv/bin/python tests/bench/bench_events.py [--events 2000] [--concurrency 16]
        [--database-url postgresql+asyncpg://…/db]   # default: a fresh SQLite file

Records --events `job.completed` events for one client with one subscribed endpoint, then times
the delivery machinery (fan-out, leased claims, signing, HTTP POST, attempt records) sending all
of them to a local subscriber: a minimal asyncio HTTP server in its own process answering 204.
Reports deliveries/s and checks every delivery succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from app.db.engine import create_engine, create_session_factory  # noqa: E402
from app.db.metadata import Base  # noqa: E402
from app.db.migrate import upgrade_to_head  # noqa: E402
from app.events import service as events  # noqa: E402
from app.events.catalog import EventType  # noqa: E402
from app.events.delivery import deliver_due, http_client  # noqa: E402
from app.events.models import DeliveryStatus, EventDelivery  # noqa: E402
from app.events.outbox import record_event  # noqa: E402
from app.logs import configure_logging  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tenancy import service as tenancy  # noqa: E402
from app.tenancy.models import Tenant  # noqa: E402

SUBSCRIBER = """
import asyncio, sys

async def answer(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = 0
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 204 No Content\\r\\ncontent-length: 0\\r\\n\\r\\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def payload(number: int) -> dict[str, object]:
    counters = {"received": 1, "valid": 1, "quarantined": 0, "unchanged": 0, "stale": 0}
    return {
        "job_id": f"job_bench_{number}",
        "entity": "product",
        "status": "SUCCEEDED",
        "counters": counters | {"written": 1},
        "request_id": None,
        "finished_at": "2026-11-25T10:00:00Z",
    }


async def run(database_url: str, count: int, concurrency: int, url: str) -> dict[str, float]:
    settings = Settings(
        database_url=database_url,
        secret_key="bench-secret",
        event_delivery_concurrency=concurrency,
        event_delivery_timeout_seconds=5,
        log_level="WARNING",
    )
    configure_logging(settings.log_level)
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    if not settings.is_sqlite:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    sessions = create_session_factory(engine)
    async with sessions() as session, session.begin():
        client = await tenancy.create_client(session, "Bench Co")
        tenant = Tenant(client.id, livemode=False)
        await events.create_endpoint(session, settings, tenant, url, ["job.completed"], None)
        for number in range(count):
            record_event(session, tenant, EventType.JOB_COMPLETED, payload(number))
    http = http_client()
    started = time.perf_counter()
    attempts = await deliver_due(sessions, http, settings)
    elapsed = time.perf_counter() - started
    await http.aclose()
    async with sessions() as session:
        succeeded = await session.scalar(
            select(func.count())
            .select_from(EventDelivery)
            .where(EventDelivery.status == DeliveryStatus.SUCCEEDED.value)
        )
    await engine.dispose()
    if succeeded != count or attempts != count:
        raise SystemExit(f"expected {count} deliveries, {succeeded} succeeded in {attempts}")
    return {"deliveries": count, "seconds": round(elapsed, 2), "per_s": round(count / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    port = free_port()
    subscriber = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, str(port)])
    try:
        time.sleep(0.5)
        with tempfile.TemporaryDirectory() as workdir:
            url = args.database_url or f"sqlite+aiosqlite:///{workdir}/bench.db"
            result = asyncio.run(
                run(url, args.events, args.concurrency, f"http://127.0.0.1:{port}/hook")
            )
        backend = "postgresql" if "postgresql" in url else "sqlite"
        print(f"{backend}, concurrency {args.concurrency}: {result}")
    finally:
        subscriber.terminate()
        subscriber.wait(timeout=10)


if __name__ == "__main__":
    main()
