"""Webhook receiver benchmark, run on demand: verified Shopify product webhooks per second and
latency percentiles against ONE real `gateway serve` process.

    .venv/bin/python tests/bench/bench_webhooks.py [--deliveries 6000] [--concurrency 16]
        [--postgres postgresql+asyncpg://…/postgres --redis redis://…]

Shapes: by default the embedded one (a fresh SQLite file, jobs run in-process, so the worker
shares the API process's CPU); with --postgres and --redis the scale-out one (a fresh database on
that server, dedupe in Redis, jobs queued for arq workers, none of which run here).

Every delivery is a distinct Shopify `products/update` (its own product id and X-Shopify-Event-Id)
signed with the connection's secret, exactly as Shopify signs. Requests are built and signed before
the clock starts and sent by a minimal HTTP/1.1 client over keep-alive connections, so the load
generator takes as little of the machine as possible. Reports deliveries/s and p50/p95/p99, checks
every answer was 202 and that a resend of the first delivery answers 200 `duplicate`, and writes
tests/bench/results/webhooks-<timestamp>.json. The server is always stopped at the end.

BENCH_PROFILE=/tmp/server.prof runs the server under cProfile (CPU time) and writes its stats
there when it stops: `python -m pstats /tmp/server.prof`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from tests.bench.bench_ingest import free_port, latency_summary  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FIXTURE = ROOT / "tests" / "unit" / "transform" / "fixtures" / "shopify_product_linen_shirt.json"
HOST = "127.0.0.1"
SECRET = "shpss_bench_" + uuid.uuid4().hex
TARGETS = {"deliveries_per_s": (">=", 1500.0), "p95_ms": ("<=", 20.0)}
SET_SECRET = """mutation Set($input: SetWebhookSecretInput!) {
  setWebhookSecret(input: $input) { connection { id url } errors { code message } }
}"""


# CPU time, not wall time: the machine is shared. uvicorn re-raises SIGTERM after its graceful
# shutdown, so the stats are written from our own handler, which it restores and calls.
PROFILED_SERVE = """
import cProfile, signal, sys, time
from app.cli import main
profile = cProfile.Profile(time.process_time)
def stop(*_):
    profile.disable()
    profile.dump_stats(sys.argv[1])
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
profile.enable()
main(["serve", "--json"])
"""


class BenchError(RuntimeError):
    pass


def gateway(*args: str, env: dict[str, str]) -> dict[str, Any]:
    command = [str(ROOT / ".venv" / "bin" / "gateway"), *args, "--json"]
    done = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed: {done.stderr.decode()[-2000:]}")
    return dict(json.loads(done.stdout))


async def fresh_postgres(url: str) -> str:
    name = f"gw_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.rsplit("/", 1)[0] + "/" + name


async def drop_postgres(url: str) -> None:
    admin, name = url.rsplit("/", 1)
    connection = await asyncpg.connect(
        admin.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


class Server:
    """`gateway serve --json` in its own session; always stopped."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.port = int(env["GATEWAY_PORT"])
        self.base_url = f"http://{HOST}:{self.port}"
        self.log = open(workdir / "server.log", "wb")  # noqa: SIM115 (closed in stop())
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """`gateway serve`; under cProfile when BENCH_PROFILE names the output file (written
        when the server stops: `python -m pstats <file>` shows where its CPU went)."""
        profile = os.environ.get("BENCH_PROFILE")
        if not profile:
            return [str(ROOT / ".venv" / "bin" / "gateway"), "serve", "--json"]
        return [str(ROOT / ".venv" / "bin" / "python"), "-c", PROFILED_SERVE, profile]

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.log.name.rsplit("/", 1)[0],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        stdout.readline()  # the JSON banner
        threading.Thread(target=lambda: stdout.read(), daemon=True).start()
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=self.base_url, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise BenchError("the server exited; see server.log")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/health").status_code == 200:
                        return
                time.sleep(0.1)
        raise BenchError("the server did not become healthy")

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


def graphql(server: Server, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as client:
        response = client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
    body = response.json()
    if "errors" in body:
        raise BenchError(f"GraphQL errors: {body['errors']}")
    return dict(body["data"])


def distinct_product(shirt: dict[str, Any], number: int) -> dict[str, Any]:
    """The fixture as another product of the catalogue: its own ids, handle, SKUs and barcodes
    (products sharing SKUs would be linked to each other, which real catalogues rarely need)."""
    product = copy.deepcopy(shirt)
    product["id"] = 9_100_000_000 + number
    product["title"] = f"Linen Shirt {number}"
    product["handle"] = f"linen-shirt-{number}"
    product["admin_graphql_api_id"] = f"gid://shopify/Product/{product['id']}"
    for index, variant in enumerate(product["variants"]):
        variant["id"] = 45_000_000_000 + number * 10 + index
        variant["product_id"] = product["id"]
        variant["admin_graphql_api_id"] = f"gid://shopify/ProductVariant/{variant['id']}"
        if variant.get("sku"):
            variant["sku"] = f"LS-{number:06d}-{index}"
        if variant.get("barcode"):
            variant["barcode"] = f"{5_700_000_000_000 + number * 10 + index}"
    return product


def signed_requests(path: str, count: int, tag: str) -> list[bytes]:
    """Complete HTTP/1.1 requests: distinct products, each signed as Shopify signs it."""
    shirt = json.loads(FIXTURE.read_text())
    requests = []
    for number in range(count):
        product = distinct_product(shirt, number)
        body = json.dumps(product, separators=(",", ":")).encode()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
        headers = [
            f"POST {path} HTTP/1.1",
            f"Host: {HOST}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "X-Shopify-Topic: products/update",
            f"X-Shopify-Hmac-Sha256: {base64.b64encode(digest).decode()}",
            "X-Shopify-Shop-Domain: bench.myshopify.com",
            "X-Shopify-API-Version: 2026-10",
            f"X-Shopify-Event-Id: {tag}-{number}",
            f"X-Shopify-Webhook-Id: {tag}-wh-{number}",
        ]
        requests.append(("\r\n".join(headers) + "\r\n\r\n").encode() + body)
    return requests


async def send(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length")
    )
    return status, await reader.readexactly(length)


async def load(port: int, requests: list[bytes], concurrency: int) -> tuple[list[float], dict]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for request in queue:
                started = time.perf_counter()
                status, _ = await send(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, statuses


async def resend_status(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        status, body = await send(reader, writer, request)
    finally:
        writer.close()
    return status, json.loads(body)


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-webhooks-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_HOST": HOST, "GATEWAY_PORT": str(free_port()), "GATEWAY_LOG_LEVEL": "WARNING"}
    database = None
    if args.postgres:
        database = asyncio.run(fresh_postgres(args.postgres))
        env |= {
            "GATEWAY_DATABASE_URL": database,
            "GATEWAY_REDIS_URL": args.redis,
            "GATEWAY_SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "GATEWAY_ARQ_QUEUE_NAME": f"gateway:bench:{uuid.uuid4().hex[:8]}",
        }
    else:
        env["GATEWAY_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    gateway("migrate", env=env)
    client = gateway("clients", "create", "Bench", "--currency", "EUR", env=env)
    key = gateway("keys", "create", "--client", client["id"], "--mode", "test", env=env)["secret"]
    server = Server(env, workdir)
    try:
        server.start()
        variables = {"input": {"platform": "SHOPIFY", "secret": SECRET}}
        payload = graphql(server, key, SET_SECRET, variables)["setWebhookSecret"]
        if payload["errors"]:
            raise BenchError(f"setWebhookSecret: {payload['errors']}")
        path = "/webhooks/shopify/" + payload["connection"]["id"]

        warm = signed_requests(path, 300, "warm")
        asyncio.run(load(server.port, warm, args.concurrency))
        requests = signed_requests(path, args.deliveries, "run")
        cpu_before = server.cpu_seconds()
        started = time.perf_counter()
        latencies, statuses = asyncio.run(load(server.port, requests, args.concurrency))
        elapsed = time.perf_counter() - started
        server_cpu = server.cpu_seconds() - cpu_before
        duplicate_status, duplicate = asyncio.run(resend_status(server.port, requests[0]))
    finally:
        server.stop()
        if database:
            asyncio.run(drop_postgres(database))
    summary = latency_summary(latencies)
    return {
        "shape": "scale-out (PostgreSQL + Redis)" if args.postgres else "embedded (SQLite)",
        "deliveries": args.deliveries,
        "concurrency": args.concurrency,
        "seconds": round(elapsed, 2),
        "deliveries_per_s": round(args.deliveries / elapsed, 1),
        "statuses": {str(k): v for k, v in statuses.items()},
        # CPU the server process used per delivery (user + system): what one free core would
        # sustain, whatever else the machine was doing during the run.
        "server_cpu_ms_per_delivery": round(server_cpu * 1000 / args.deliveries, 2),
        "deliveries_per_cpu_second": round(args.deliveries / server_cpu, 1),
        "load_average": os.getloadavg()[0],
        "resend": {"status": duplicate_status, "answer": duplicate.get("status")},
        **{key: value for key, value in summary.items() if key != "calls"},
    }


def _meets(measured: float, op: str, target: float) -> bool:
    return measured >= target if op == ">=" else measured <= target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", help="postgresql+asyncpg://… of a server (scale-out shape)")
    parser.add_argument("--redis", help="redis://… (scale-out shape)")
    args = parser.parse_args()
    if bool(args.postgres) != bool(args.redis):
        parser.error("--postgres and --redis go together")
    result = run(args)
    result["targets"] = {
        name: {
            "target": f"{op} {value}",
            "met": result[name] >= value if op == ">=" else result[name] <= value,
        }
        for name, (op, value) in TARGETS.items()
    }
    result["at"] = datetime.now(UTC).isoformat()
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"webhooks-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
