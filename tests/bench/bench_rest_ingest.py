"""REST ingest benchmark, run on demand (not part of the pytest suite).

    .venv/bin/python tests/bench/bench_rest_ingest.py [--records 100000] [--batch 1000]
        [--concurrency 4] [--bulk-records 100000] [--accept-batches 30] [--redis-url redis://…]
        [--profile] [--postgres postgresql+asyncpg://…/postgres]

1. REST accept rate: one real `gateway serve` (embedded shape: SQLite, in-process jobs; with
   --postgres the scale-out shape: PostgreSQL, jobs queued in Redis, no worker running) takes
   --records products through `POST /ingest/products` in --batch sized JSON calls from
   --concurrency clients (bodies serialised before the clock starts); records/s and latency.
2. NDJSON bulk import: a fresh server takes --bulk-records products as ONE streamed
   `application/x-ndjson` request (generated while sending, never held whole by the client);
   the server's RSS is sampled every 50 ms during the upload and until the job has finished.
3. Rate limiter: the cost of one decision (`RateLimiter.take_api`, client limits cached) in
   process, and through Redis when --redis-url (or GATEWAY_TEST_REDIS_URL) is given.
4. Accept CPU: CPU ms per 1,000 records of in-process ASGI calls (no network, no worker running),
   the server-side cost of accepting a batch free of the load the bench client adds.
5. --profile: where the time of one accept goes, from cProfile over in-process ASGI calls.

The REST phase also reports the server process's CPU ms per 1,000 records during the push
(/proc/<pid>/stat; includes the in-process worker processing jobs meanwhile).

Prints a report and writes tests/bench/results/rest-ingest-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from tests.bench.bench_ingest import (  # noqa: E402
    RESULTS_DIR,
    BenchError,
    Server,
    git_commit,
    latency_summary,
    new_client,
    proc_memory_mb,
    terminate_on_sigterm,
    wait_idle,
)
from tests.bench.bench_webhooks import drop_postgres, fresh_postgres, gateway  # noqa: E402
from tests.helpers import shopify_product  # noqa: E402

TARGETS = {"rest_records_per_s": (">=", 20_000.0), "bulk_peak_rss_mb": ("<", 250.0)}


# --------------------------------------------------------------------------- 1. REST JSON


def json_bodies(total: int, batch: int) -> list[bytes]:
    return [
        orjson.dumps({"records": [shopify_product(n) for n in range(start, start + batch)]})
        for start in range(0, total, batch)
    ]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def rest_accept(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    bodies = json_bodies(args.records, args.batch)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []

    async def client_loop() -> None:
        async with new_client(server, 120.0) as client:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post("/ingest/products", content=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 202:
                    raise BenchError(f"HTTP {response.status_code}: {response.text[:300]}")

    cpu_before, started = process_cpu_seconds(server.pid), time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    server_cpu = process_cpu_seconds(server.pid) - cpu_before
    drained = None
    if not args.postgres:  # scale-out: the jobs wait in Redis for workers that do not run here
        async with new_client(server, 120.0) as client:
            drained = round(await wait_idle(client, server, 600.0, 0.5, "rest jobs"), 1)
    return {
        "records": args.records,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "seconds": round(elapsed, 2),
        "records_per_s": round(args.records / elapsed),
        "server_cpu_ms_per_1000": round(server_cpu * 1000 / (args.records / 1000), 1),
        "latency": latency_summary(latencies),
        "drain_after_push_s": drained,
        "rss_mb": server.memory_mb(),
    }


# --------------------------------------------------------------------------- 2. NDJSON


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, proc_memory_mb(self.pid).get("VmRSS", 0.0))
            time.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def ndjson_stream(total: int, per_chunk: int = 500) -> AsyncIterator[bytes]:
    for start in range(0, total, per_chunk):
        end = min(total, start + per_chunk)
        yield b"".join(orjson.dumps(shopify_product(n)) + b"\n" for n in range(start, end))


async def bulk_import(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    before = server.memory_mb()
    with RssSampler(server.pid) as sampler:
        async with httpx.AsyncClient(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {server.test_key}"},
            timeout=httpx.Timeout(900.0, connect=10.0),
            trust_env=False,
        ) as client:
            started = time.perf_counter()
            response = await client.post(
                "/ingest/products",
                content=ndjson_stream(args.bulk_records),
                headers={"Content-Type": "application/x-ndjson"},
            )
            uploaded = time.perf_counter() - started
            if response.status_code != 202:
                raise BenchError(f"HTTP {response.status_code}: {response.text[:300]}")
            upload_peak = sampler.peak
            job = response.json()
        async with new_client(server, 120.0) as polling:
            drained = None
            if not args.postgres:  # scale-out: no worker here processes the job
                drained = round(await wait_idle(polling, server, 1800.0, 1.0, "bulk job"), 1)
            done = (await polling.get(f"/jobs/{job['id']}")).json()
    return {
        "records": args.bulk_records,
        "upload_seconds": round(uploaded, 2),
        "upload_records_per_s": round(args.bulk_records / uploaded),
        "processing_seconds": drained,
        "job_status": done["status"],
        "job_counters": done["counters"],
        "rss_before_mb": before.get("VmRSS"),
        "peak_rss_upload_mb": upload_peak,
        "peak_rss_mb": sampler.peak,
        "vm_hwm_mb": server.memory_mb().get("VmHWM"),
    }


# --------------------------------------------------------------------------- 3. rate limiter


async def limiter_cost(redis_url: str | None, calls: int) -> dict[str, Any]:
    from app.ratelimit.service import RateLimiter
    from app.services import Services
    from app.settings import Settings
    from app.tenancy.models import KeyMode, Principal

    result: dict[str, Any] = {}
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-rl-"))
    try:
        for name, url in (("in_process", None), ("redis", redis_url)):
            if name == "redis" and not url:
                result[name] = "skipped (no --redis-url)"
                continue
            settings = Settings(
                database_url=f"sqlite+aiosqlite:///{workdir / 'rl.db'}",
                redis_url=url,
                rate_limit_burst=10**9,
                rate_limit_per_second=10**9,
            )
            services = Services.create(settings)
            limiter = RateLimiter.create(settings, services.sessions)
            principal = Principal("key_bench", None, KeyMode.TEST)
            await limiter.take_api(principal)
            started = time.perf_counter()
            for _ in range(calls):
                await limiter.take_api(principal)
            elapsed = time.perf_counter() - started
            await limiter.close()
            await services.engine.dispose()
            result[name] = {"calls": calls, "us_per_call": round(elapsed / calls * 1e6, 1)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


# --------------------------------------------------------------------------- 4./5. in process

Post = Callable[[bytes], Awaitable[httpx.Response]]


@asynccontextmanager
async def in_process_app() -> AsyncIterator[Post]:
    """The app on a fresh SQLite file, called through ASGI (the worker is not started)."""
    from app.asgi import create_app
    from app.db.engine import create_engine
    from app.db.migrate import upgrade_to_head
    from app.services import Services, tune_garbage_collector
    from app.settings import Settings
    from tests.conftest import create_tenant

    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-prof-"))
    try:
        url = f"sqlite+aiosqlite:///{workdir / 'p.db'}"
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        settings = Settings(database_url=url, log_level="WARNING", inprocess_workers=1)
        services = Services.create(settings)
        app = create_app(settings, services)
        tenant = await create_tenant(services)
        tune_garbage_collector()  # as the server does at start-up
        headers = {**tenant.headers, "Content-Type": "application/json"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def post(body: bytes) -> httpx.Response:
                response = await client.post("/ingest/products", content=body, headers=headers)
                if response.status_code != 202:
                    raise BenchError(f"HTTP {response.status_code}: {response.text[:300]}")
                return response

            yield post
        await services.engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def accept_cpu(batches: int, batch: int) -> dict[str, Any]:
    """CPU per 1,000 records accepted in process (after one warm-up call)."""
    bodies = json_bodies((batches + 1) * batch, batch)
    async with in_process_app() as post:
        await post(bodies[0])
        started = time.process_time()
        for body in bodies[1:]:
            await post(body)
        cpu = time.process_time() - started
    return {
        "batches": batches,
        "batch": batch,
        "cpu_ms_per_1000": round(cpu / batches * 1e6 / batch, 2),
    }


async def profile_accept(batches: int, batch: int) -> str:
    """cProfile over in-process ASGI calls (no network): the share of each function."""
    bodies = json_bodies(batches * batch, batch)
    profiler = cProfile.Profile()
    async with in_process_app() as post:
        profiler.enable()
        for body in bodies:
            await post(body)
        profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(18)
    return stream.getvalue()


# --------------------------------------------------------------------------- main


def with_server(args: argparse.Namespace, phase: Any) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-rest-"))
    database = asyncio.run(fresh_postgres(args.postgres)) if args.postgres else None
    server = Server(workdir, 60.0, scale_out_env(database, args.redis_url) if database else None)
    try:
        server.start()
        result: dict[str, Any] = asyncio.run(phase(server, args))
        return result
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if database:
            asyncio.run(drop_postgres(database))


def scale_out_env(database: str, redis_url: str) -> dict[str, str]:
    """The API process alone: PostgreSQL, jobs queued in Redis for arq workers (none run here).
    The database has no sandbox client: one is made, with a test key, through the CLI."""
    env = {
        "GATEWAY_DATABASE_URL": database,
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "GATEWAY_ARQ_QUEUE_NAME": f"gateway:bench:{uuid.uuid4().hex[:8]}",
    }
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | env
    gateway("migrate", env=cli_env)
    client = gateway("clients", "create", "Bench", "--currency", "EUR", env=cli_env)
    key = gateway("keys", "create", "--client", client["id"], "--mode", "test", env=cli_env)
    return env | {"BENCH_TEST_KEY": key["secret"]}


def verdicts(result: dict[str, Any]) -> dict[str, str]:
    measured = {
        "rest_records_per_s": result.get("rest", {}).get("records_per_s"),
        "bulk_peak_rss_mb": result.get("bulk", {}).get("peak_rss_mb"),
    }
    found = {}
    for name, (op, target) in TARGETS.items():
        value = measured[name]
        if value is None:
            continue
        ok = value >= target if op == ">=" else value < target
        found[name] = f"{value} {op} {target}: {'PASS' if ok else 'MISS'}"
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="0 skips the REST phase")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--bulk-records", type=int, default=100_000, help="0 skips the phase")
    parser.add_argument("--accept-batches", type=int, default=30, help="0 skips the phase")
    parser.add_argument("--limiter-calls", type=int, default=20_000)
    parser.add_argument("--redis-url", default=os.environ.get("GATEWAY_TEST_REDIS_URL"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--postgres",
        help="postgresql+asyncpg://…/postgres: the scale-out shape (a fresh database there, jobs "
        "queued in --redis-url; the API process only accepts)",
    )
    args = parser.parse_args(argv)
    if args.postgres and not args.redis_url:
        parser.error("--postgres needs --redis-url (or GATEWAY_TEST_REDIS_URL)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result: dict[str, Any] = {}
    try:
        with terminate_on_sigterm():
            if args.records:
                print("REST JSON ingest …")
                result["rest"] = with_server(args, rest_accept)
            if args.bulk_records:
                print("NDJSON bulk import …")
                result["bulk"] = with_server(args, bulk_import)
            if args.accept_batches:
                print("accept CPU in process …")
                result["accept_cpu"] = asyncio.run(accept_cpu(args.accept_batches, args.batch))
            print("rate limiter cost …")
            result["rate_limiter"] = asyncio.run(limiter_cost(args.redis_url, args.limiter_calls))
            if args.profile:
                print("profiling the accept path …")
                result["profile"] = asyncio.run(profile_accept(20, args.batch))
    except (BenchError, httpx.HTTPError) as error:
        print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    doc = {
        "benchmark": "rest-ingest",
        "timestamp": stamp,
        "args": vars(args),
        "env": {"commit": git_commit(), "cpus": os.cpu_count()},
        "result": result,
        "targets": verdicts(result),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"rest-ingest-{stamp}.json"
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    profile = result.pop("profile", None)
    print(
        orjson.dumps(
            {"result": result, "targets": doc["targets"]}, option=orjson.OPT_INDENT_2
        ).decode()
    )
    if profile:
        print(profile)
    print(f"written {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
