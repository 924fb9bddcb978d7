"""Mixed-traffic load test on the scale-out topology, run on demand (never in the test suite).

    .venv/bin/python tests/bench/load_mixed.py [--duration 600] [--clients 4] [--batch 10]
        [--graphql-rate 1] [--rest-rate 1] [--webhook-rate 4] [--poll-rate 4] [--out FILE]

Starts its own services so it disturbs nobody: a fresh `load_<random>` database on the PostgreSQL
server of GATEWAY_TEST_POSTGRES_URL (source /tmp/testenv.sh; dropped after) and a redis-server on
a free port. On them runs deploy/local/topology.py's shape: two API processes and two
`gateway worker` processes (each serving its metrics on its own GATEWAY_METRICS_PORT), with the
production defaults, so the sandbox Airtable enforces Airtable's real 5 requests/s per base and
the gateway paces itself to it; --clients test clients, so as many bases.

Open loop: every door has a fixed arrival rate (requests/s, evenly spaced), each request is sent
when it is due whatever the earlier ones are doing, and its latency counts from when it was due,
so a slow server cannot slow the generator down and hide its own latency. Requests go round-robin
over the clients and over both API ports, as a load balancer would spread them:
- GraphQL `ingestProducts` and REST `POST /ingest/products`: --batch new realistic products each;
- signed Shopify `products/update` webhook deliveries, one new product each;
- job polling: `GET /jobs/{id}` and GraphQL `job` (alternately) on recently accepted jobs.

After --duration, the load stops and the test waits (up to --drain-timeout) until every accepted
record is written to its sandbox AMS base. Reported: throughput, p50/p95/p99 latency and errors
(non-2xx, GraphQL errors, transport errors) per door; end-to-end sync latency (request sent →
AMS write, per record, from `ams_sync_records.synced_at`; and p95 from the workers'
`gateway_sync_latency_seconds` histograms, which count from job creation); accepted records
eventually written, the canonical / AMS ledger / sandbox-base row counts; the RSS of every
process every 10 s (flagging growth > 10% between the first and the last third) and the load
average. A human summary on stdout, everything in --out (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402

from app.services import Services  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tenancy import service as tenancy  # noqa: E402
from app.tenancy.models import KeyMode  # noqa: E402
from deploy.local.topology import Process, Topology, free_port  # noqa: E402
from tests.bench.load_support import (  # noqa: E402
    RedisServer,
    Sampler,
    admin_dsn,
    counter_sum,
    create_database,
    drop_database,
    histogram_buckets,
    histogram_quantile,
    latency_ms,
    parse_metrics,
    percentile,
)
from tests.helpers import shopify_product  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FIXTURE = ROOT / "tests" / "unit" / "transform" / "fixtures" / "shopify_product_linen_shirt.json"
SECRET_KEY = "load-mixed-secret-key"
WEBHOOK_SECRET = "shpss_load_" + uuid.uuid4().hex
REQUEST_TIMEOUT = 30.0
TARGETS = {"sync_p95_s": 2.0, "written_ratio": 0.9999, "memory_growth": 0.10}

INGEST_MUTATION = (
    "mutation Push($input: IngestProductsInput!) { ingestProducts(input: $input) "
    "{ job { id status } replayed errors { code message path } } }"
)
JOB_QUERY = "query Job($id: ID!) { job(id: $id) { id status counters { received written } } }"
SET_SECRET = """mutation Set($input: SetWebhookSecretInput!) {
  setWebhookSecret(input: $input) { connection { id url } errors { code message } }
}"""
DOORS = ("graphql_ingest", "rest_ingest", "webhook", "rest_job_poll", "graphql_job_poll")


@dataclass
class Client:
    name: str
    client_id: str
    key: str
    webhook_path: str = ""
    jobs: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    sent_at: dict[str, float] = field(default_factory=dict)  # accepted external id → send time


@dataclass
class DoorStats:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    graphql_errors: int = 0
    transport_errors: dict[str, int] = field(default_factory=dict)
    max_lag_s: float = 0.0

    def status(self, code: int) -> None:
        self.statuses[str(code)] = self.statuses.get(str(code), 0) + 1

    def report(self, seconds: float) -> dict[str, Any]:
        sent = len(self.latencies) + sum(self.transport_errors.values())
        failed = sent - self.ok
        return {
            "sent": sent,
            "ok": self.ok,
            "throughput_per_s": round(self.ok / seconds, 2),
            "error_rate": round(failed / sent, 5) if sent else 0.0,
            "statuses": self.statuses,
            "graphql_errors": self.graphql_errors,
            "transport_errors": self.transport_errors,
            "latency": latency_ms(self.latencies),
            "generator_max_lag_ms": round(self.max_lag_s * 1000, 1),
        }


class Load:
    """The traffic: one open-loop schedule per door, requests round-robin over clients/ports."""

    def __init__(self, args: argparse.Namespace, api_urls: list[str], clients: list[Client]):
        self.args = args
        self.clients = clients
        self.http = [
            httpx.AsyncClient(
                base_url=url, timeout=REQUEST_TIMEOUT, trust_env=False,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
            for url in api_urls
        ]  # fmt: skip
        self.stats = {door: DoorStats() for door in DOORS}
        self.next_port = itertools.count()
        self.next_client = {door: itertools.count() for door in DOORS}
        self.product_numbers = itertools.count()
        self.webhook_numbers = itertools.count()
        self.shirt = json.loads(FIXTURE.read_text())
        self.tasks: set[asyncio.Task[None]] = set()

    def port(self) -> httpx.AsyncClient:
        return self.http[next(self.next_port) % len(self.http)]

    def client(self, door: str) -> Client:
        return self.clients[next(self.next_client[door]) % len(self.clients)]

    async def run(self, duration: float) -> None:
        rates = {
            "graphql_ingest": self.args.graphql_rate,
            "rest_ingest": self.args.rest_rate,
            "webhook": self.args.webhook_rate,
            "rest_job_poll": self.args.poll_rate / 2,
            "graphql_job_poll": self.args.poll_rate / 2,
        }
        start = time.monotonic() + 0.5
        await asyncio.gather(
            *(self.schedule(door, rate, start, duration) for door, rate in rates.items() if rate)
        )
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=REQUEST_TIMEOUT + 5)

    async def schedule(self, door: str, rate: float, start: float, duration: float) -> None:
        sender = getattr(self, door)
        for number in itertools.count():
            due = start + number / rate
            if due - start >= duration:
                return
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            lag = time.monotonic() - due
            self.stats[door].max_lag_s = max(self.stats[door].max_lag_s, lag)
            task = asyncio.create_task(self.timed(door, sender, due))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def timed(self, door: str, sender: Any, due: float) -> None:
        stats = self.stats[door]
        try:
            ok = await sender(self.client(door), stats)
        except (httpx.HTTPError, OSError) as error:
            name = type(error).__name__
            stats.transport_errors[name] = stats.transport_errors.get(name, 0) + 1
            return
        stats.latencies.append(time.monotonic() - due)
        stats.ok += 1 if ok else 0

    # ------------------------------------------------------------------- the doors

    def products(self) -> list[dict[str, Any]]:
        return [shopify_product(next(self.product_numbers)) for _ in range(self.args.batch)]

    async def graphql_ingest(self, client: Client, stats: DoorStats) -> bool:
        records = self.products()
        variables = {"input": {"records": records, "idempotencyKey": uuid.uuid4().hex}}
        body = orjson.dumps({"query": INGEST_MUTATION, "variables": variables})
        sent = time.time()
        response = await self.port().post("/graphql", content=body, headers=bearer(client))
        stats.status(response.status_code)
        payload = graphql_data(response, stats)
        result = payload.get("ingestProducts") if payload else None
        if not result or result["errors"] or result["job"] is None:
            stats.graphql_errors += 1 if response.status_code == 200 else 0
            return False
        self.accepted(client, result["job"]["id"], [r["external_id"] for r in records], sent)
        return True

    async def rest_ingest(self, client: Client, stats: DoorStats) -> bool:
        records = self.products()
        body = orjson.dumps({"records": records})
        headers = bearer(client) | {"Idempotency-Key": uuid.uuid4().hex}
        sent = time.time()
        response = await self.port().post("/ingest/products", content=body, headers=headers)
        stats.status(response.status_code)
        if response.status_code != 202:
            return False
        job_id = orjson.loads(response.content)["id"]
        self.accepted(client, job_id, [r["external_id"] for r in records], sent)
        return True

    async def webhook(self, client: Client, stats: DoorStats) -> bool:
        number = next(self.webhook_numbers)
        product_id = 9_100_000_000 + number
        body = self.shopify_update(product_id, number)
        digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "products/update",
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": "load.myshopify.com",
            "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Event-Id": f"load-{number}",
            "X-Shopify-Webhook-Id": f"load-wh-{number}",
        }
        sent = time.time()
        response = await self.port().post(client.webhook_path, content=body, headers=headers)
        stats.status(response.status_code)
        if response.status_code != 202:
            return False
        receipt = orjson.loads(response.content)
        if receipt.get("status") != "accepted" or not receipt.get("job_ids"):
            return False
        self.accepted(client, receipt["job_ids"][0], [str(product_id)], sent)
        return True

    def shopify_update(self, product_id: int, number: int) -> bytes:
        product = copy.deepcopy(self.shirt)
        product["id"] = product_id
        product["title"] = f"Linen Shirt W{number}"
        product["handle"] = f"linen-shirt-w{number}"
        for index, variant in enumerate(product["variants"]):
            variant["id"] = 60_000_000_000 + number * 10 + index
            variant["product_id"] = product_id
            variant["sku"] = f"W{number:07d}-{index}"
        for index, image in enumerate(product["images"]):
            image["id"] = 70_000_000_000 + number * 10 + index
            image["product_id"] = product_id
        product.pop("image", None)
        return orjson.dumps(product)

    async def rest_job_poll(self, client: Client, stats: DoorStats) -> bool:
        job_id = self.some_job(client)
        if job_id is None:
            return True  # nothing accepted yet for this client: counted as a trivial success
        response = await self.port().get(f"/jobs/{job_id}", headers=bearer(client))
        stats.status(response.status_code)
        return response.status_code == 200

    async def graphql_job_poll(self, client: Client, stats: DoorStats) -> bool:
        job_id = self.some_job(client)
        if job_id is None:
            return True
        body = orjson.dumps({"query": JOB_QUERY, "variables": {"id": job_id}})
        response = await self.port().post("/graphql", content=body, headers=bearer(client))
        stats.status(response.status_code)
        payload = graphql_data(response, stats)
        return bool(payload and payload.get("job"))

    def some_job(self, client: Client) -> str | None:
        return random.choice(client.jobs) if client.jobs else None

    def accepted(self, client: Client, job_id: str, external_ids: list[str], sent: float) -> None:
        client.jobs.append(job_id)
        for external_id in external_ids:
            client.sent_at[external_id] = sent

    async def close(self) -> None:
        for http in self.http:
            await http.aclose()


def bearer(client: Client) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.key}", "Content-Type": "application/json"}


def graphql_data(response: httpx.Response, stats: DoorStats) -> dict[str, Any] | None:
    if response.status_code != 200:
        return None
    document = orjson.loads(response.content)
    if document.get("errors"):
        stats.graphql_errors += 1
        return None
    data: dict[str, Any] | None = document.get("data")
    return data


# --------------------------------------------------------------------------- set-up


async def create_clients(database_url: str, api_url: str, count: int) -> list[Client]:
    """Test clients with a key each and a Shopify webhook connection signed with our secret."""
    services = Services.create(Settings(database_url=database_url, secret_key=SECRET_KEY))
    clients = []
    try:
        for number in range(count):
            async with services.sessions() as session, session.begin():
                created = await tenancy.create_client(session, f"Load Client {number + 1}")
                # Shopify webhooks carry prices without a currency: the client's default
                await tenancy.configure_client(session, created.id, "EUR", None, None)
                key = await tenancy.create_key(session, created.id, KeyMode.TEST)
            clients.append(Client(f"client-{number + 1}", created.id, key.secret))
    finally:
        await services.engine.dispose()
    async with httpx.AsyncClient(base_url=api_url, timeout=60, trust_env=False) as http:
        for client in clients:
            variables = {"input": {"platform": "SHOPIFY", "secret": WEBHOOK_SECRET}}
            response = await http.post(
                "/graphql",
                json={"query": SET_SECRET, "variables": variables},
                headers=bearer(client),
            )
            payload = response.json()["data"]["setWebhookSecret"]
            if payload["errors"]:
                raise RuntimeError(f"setWebhookSecret: {payload['errors']}")
            client.webhook_path = "/webhooks/shopify/" + payload["connection"]["id"]
    return clients


def add_workers(topology: Topology, count: int) -> list[int]:
    """The topology's workers, each with its own GATEWAY_METRICS_PORT (the launcher gives every
    worker the same environment); returns the metrics ports."""
    ports = []
    env = topology.api_processes[0].env
    logs = topology.api_processes[0].log_path.parent
    for number in range(1, count + 1):
        port = free_port()
        worker = Process(
            f"worker-{number}", [sys.executable, "-m", "app.cli", "worker"],
            env | {"GATEWAY_METRICS_PORT": str(port)}, logs / f"worker-{number}.log",
        )  # fmt: skip
        worker.start()
        topology.workers.append(worker)
        ports.append(port)
    return ports


# --------------------------------------------------------------------------- measuring


async def written(database_url: str, clients: list[Client]) -> dict[str, dict[str, float]]:
    """Per client: external id → epoch of its AMS write, for every record written so far."""
    connection = await asyncpg.connect(admin_dsn(database_url))
    try:
        found: dict[str, dict[str, float]] = {}
        for client in clients:
            rows = await connection.fetch(
                "SELECT external_id, synced_at FROM ams_sync_records WHERE client_id = $1 "
                "AND entity = 'product' AND airtable_record_id IS NOT NULL",
                client.client_id,
            )
            found[client.name] = {row[0]: row[1].timestamp() for row in rows if row[1]}
        return found
    finally:
        await connection.close()


STAGES_SQL = """
WITH r AS (
  SELECT j.door, extract(epoch FROM j.started_at - j.created_at) AS queued,
         extract(epoch FROM j.finished_at - j.started_at) AS processed,
         extract(epoch FROM s.synced_at - j.finished_at) AS to_ams,
         extract(epoch FROM s.synced_at - j.created_at) AS total
  FROM ingest_jobs j
  JOIN canonical_records c ON c.last_job_id = j.id
  JOIN ams_sync_records s ON s.client_id = c.client_id AND s.livemode = c.livemode
   AND s.entity = c.entity AND s.source_platform = c.source_platform
   AND s.external_id = c.external_id
  WHERE j.status = 'SUCCEEDED' AND s.synced_at IS NOT NULL AND j.created_at >= $1)
SELECT door, count(*),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY queued),
  percentile_cont(0.95) WITHIN GROUP (ORDER BY queued),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY processed),
  percentile_cont(0.95) WITHIN GROUP (ORDER BY processed),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY to_ams),
  percentile_cont(0.95) WITHIN GROUP (ORDER BY to_ams),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY total),
  percentile_cont(0.95) WITHIN GROUP (ORDER BY total)
FROM r GROUP BY door ORDER BY door
"""
STAGES = ("queued", "processed", "to_ams", "job_created_to_ams")


async def stage_breakdown(database_url: str, since: datetime) -> dict[str, Any]:
    """Per door, where a record's time goes (s, p50/p95): job created → started (queue), started
    → finished (processing), finished → AMS write, and job created → AMS write."""
    connection = await asyncpg.connect(admin_dsn(database_url))
    try:
        rows = await connection.fetch(STAGES_SQL, since)
    finally:
        await connection.close()
    return {
        row[0]: {"records": row[1]}
        | {
            f"{stage}_{pct}_s": round(float(row[2 + 2 * n + k]), 3)
            for n, stage in enumerate(STAGES)
            for k, pct in enumerate(("p50", "p95"))
        }
        for row in rows
    }


async def final_counts(database_url: str, clients: list[Client]) -> dict[str, Any]:
    connection = await asyncpg.connect(admin_dsn(database_url))
    try:
        counts: dict[str, Any] = {
            "jobs_by_status": {
                row[0]: row[1]
                for row in await connection.fetch(
                    "SELECT status, count(*) FROM ingest_jobs GROUP BY status"
                )
            },
            "failed_jobs_by_door_and_reason": [
                {"door": row[0], "reason": (row[1] or "")[:300], "jobs": row[2]}
                for row in await connection.fetch(
                    "SELECT door, failure_reason, count(*) FROM ingest_jobs WHERE status = "
                    "'FAILED' GROUP BY door, failure_reason ORDER BY count(*) DESC LIMIT 5"
                )
            ],
            "record_errors_by_door_and_code": [
                {
                    "door": row[0],
                    "code": row[1],
                    "path": row[2],
                    "message": row[3][:200],
                    "records": row[4],
                }
                for row in await connection.fetch(
                    "SELECT j.door, e.code, min(e.path), min(e.message), count(*) "
                    "FROM record_errors e JOIN ingest_jobs j ON j.id = e.job_id "
                    "GROUP BY j.door, e.code ORDER BY count(*) DESC LIMIT 5"
                )
            ],
        }
        for client in clients:
            counts[client.name] = {
                "accepted_records": len(client.sent_at),
                "canonical": await connection.fetchval(
                    "SELECT count(*) FROM canonical_records WHERE client_id = $1 "
                    "AND entity = 'product'",
                    client.client_id,
                ),
                "ams_ledger_written": await connection.fetchval(
                    "SELECT count(*) FROM ams_sync_records WHERE client_id = $1 "
                    "AND entity = 'product' AND airtable_record_id IS NOT NULL",
                    client.client_id,
                ),
                "sandbox_base_rows": await connection.fetchval(
                    "SELECT count(*) FROM airtable_records r JOIN airtable_tables t "
                    "ON t.id = r.table_id WHERE r.client_id = $1 AND t.name = 'Products'",
                    client.client_id,
                ),
            }
        return counts
    finally:
        await connection.close()


async def server_setting(database_url: str, name: str) -> str:
    connection = await asyncpg.connect(admin_dsn(database_url))
    try:
        return str(await connection.fetchval(f"SHOW {name}"))
    finally:
        await connection.close()


async def progress(
    database_url: str, clients: list[Client], started: float, stop: asyncio.Event
) -> list[dict[str, Any]]:
    """Every 10 s: accepted vs written records (a growing backlog means the rate is too high)."""
    series = []
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 10)
        done = await written(database_url, clients)
        row = {
            "t_s": round(time.monotonic() - started),
            "accepted": sum(len(c.sent_at) for c in clients),
            "written": sum(len(v) for v in done.values()),
            "load1": os.getloadavg()[0],
        }
        series.append(row)
        print(f"  t={row['t_s']:>4}s accepted={row['accepted']:>6} written={row['written']:>6} "
              f"backlog={row['accepted'] - row['written']:>5} load={row['load1']:.2f}",
              flush=True)  # fmt: skip
    return series


async def analyze_periodically(database_url: str, every: float, stop: asyncio.Event) -> int:
    """`ANALYZE` every `every` s, as autovacuum's auto-analyze does on a default PostgreSQL (the
    test server runs with autovacuum off: without statistics the planner keeps the plans it
    chose for empty tables). Returns how many times it ran."""
    runs = 0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        connection = await asyncpg.connect(admin_dsn(database_url))
        try:
            await connection.execute("ANALYZE")
            runs += 1
        finally:
            await connection.close()
    return runs


async def drain(database_url: str, clients: list[Client], within: float) -> float:
    """Until every accepted record is written (or `within` s); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        done = await written(database_url, clients)
        missing = sum(len(set(c.sent_at) - set(done[c.name])) for c in clients)
        if missing == 0:
            break
        await asyncio.sleep(2)
    return time.monotonic() - started


def sync_latencies(clients: list[Client], done: dict[str, dict[str, float]]) -> dict[str, Any]:
    seconds = [
        done[c.name][external_id] - sent
        for c in clients
        for external_id, sent in c.sent_at.items()
        if external_id in done[c.name]
    ]
    accepted = sum(len(c.sent_at) for c in clients)
    return {
        "records": len(seconds),
        "p50_s": round(percentile(seconds, 50), 3),
        "p95_s": round(percentile(seconds, 95), 3),
        "p99_s": round(percentile(seconds, 99), 3),
        "max_s": round(max(seconds), 3) if seconds else None,
        "accepted_records": accepted,
        "written_ratio": round(len(seconds) / accepted, 6) if accepted else None,
    }


async def scrape(urls: list[str]) -> list[tuple[str, dict[str, str], float]]:
    samples: list[tuple[str, dict[str, str], float]] = []
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        for url in urls:
            response = await http.get(url)
            response.raise_for_status()
            samples.extend(parse_metrics(response.text))
    return samples


Samples = list[tuple[str, dict[str, str], float]]


async def metrics_snapshot(api_urls: list[str], worker_ports: list[int]) -> dict[str, Samples]:
    return {
        "workers": await scrape([f"http://127.0.0.1:{port}/metrics" for port in worker_ports]),
        "apis": await scrape([f"{url}/metrics" for url in api_urls]),
    }


def metrics_report(before: dict[str, Samples], after: dict[str, Samples]) -> dict[str, Any]:
    """What the processes counted during the load (after minus before: the warm-up left out)."""
    name = "gateway_sync_latency_seconds"
    start, end = (
        histogram_buckets(before["workers"], name),
        histogram_buckets(after["workers"], name),
    )
    buckets = {bound: count - start.get(bound, 0.0) for bound, count in end.items()}

    def delta(kind: str, metric: str, label: str) -> dict[str, float]:
        first = counter_sum(before[kind], metric, label)
        return {
            k: v - first.get(k, 0.0) for k, v in counter_sum(after[kind], metric, label).items()
        }

    return {
        "sync_latency_histogram_p50_s": round(histogram_quantile(buckets, 0.50), 3),
        "sync_latency_histogram_p95_s": round(histogram_quantile(buckets, 0.95), 3),
        "sync_latency_histogram_p99_s": round(histogram_quantile(buckets, 0.99), 3),
        "sync_latency_histogram_buckets": {str(k): v for k, v in sorted(buckets.items())},
        "ams_requests_by_code": delta("workers", "gateway_ams_requests", "code"),
        "ingest_records_by_outcome": delta("workers", "gateway_ingest_records", "outcome"),
        "api_requests_by_door": delta("apis", "gateway_requests", "door"),
    }


# --------------------------------------------------------------------------- the run


async def warm_up(topology: Topology, clients: list[Client], worker_ports: list[int]) -> float:
    """One product per client through REST, until written: the workers are up and every
    client's sandbox base is provisioned before the clock starts (not part of the numbers)."""
    started = time.monotonic()
    await wait_metrics([f"http://127.0.0.1:{port}/metrics" for port in worker_ports], 120)
    warm = [Client(c.name, c.client_id, c.key) for c in clients]
    async with httpx.AsyncClient(
        base_url=topology.api_urls[0], timeout=60, trust_env=False
    ) as http:
        for number, client in enumerate(warm):
            record = shopify_product(900_000_000 + number)
            body = orjson.dumps({"records": [record]})
            response = await http.post("/ingest/products", content=body, headers=bearer(client))
            response.raise_for_status()
            client.sent_at[record["external_id"]] = time.time()
    await drain(topology.database_url, warm, 180)
    done = await written(topology.database_url, warm)
    if any(set(c.sent_at) - set(done[c.name]) for c in warm):
        raise RuntimeError("warm-up records were not written to the AMS within 180 s")
    return round(time.monotonic() - started, 1)


async def wait_metrics(urls: list[str], within: float) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2, trust_env=False) as http:
        for url in urls:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not answer within {within:.0f} s")
                await asyncio.sleep(0.5)


async def drive(
    args: argparse.Namespace, topology: Topology, worker_ports: list[int], sampler: Sampler
) -> dict[str, Any]:
    clients = await create_clients(topology.database_url, topology.api_urls[0], args.clients)
    warm_up_seconds = await warm_up(topology, clients, worker_ports)
    before = await metrics_snapshot(topology.api_urls, worker_ports)
    load_started_at = datetime.now(UTC)
    load = Load(args, topology.api_urls, clients)
    stop = asyncio.Event()
    sampler.start()
    started = time.monotonic()
    watcher = asyncio.create_task(progress(topology.database_url, clients, started, stop))
    analyzer = (
        asyncio.create_task(analyze_periodically(topology.database_url, args.analyze_every, stop))
        if args.analyze_every
        else None
    )
    print(f"load: {args.duration:.0f} s on {', '.join(topology.api_urls)} "
          f"(warm-up took {warm_up_seconds} s)", flush=True)  # fmt: skip
    try:
        await load.run(args.duration)
    finally:
        await load.close()
    load_seconds = time.monotonic() - started
    print(f"load stopped after {load_seconds:.0f} s; draining …", flush=True)
    drained = await drain(topology.database_url, clients, args.drain_timeout)
    stop.set()
    backlog = await watcher
    analyzed = await analyzer if analyzer is not None else 0
    sampler.stop()
    done = await written(topology.database_url, clients)
    after = await metrics_snapshot(topology.api_urls, worker_ports)
    return {
        "doors": {door: load.stats[door].report(args.duration) for door in DOORS},
        "warm_up_seconds": warm_up_seconds,
        "load_seconds": round(load_seconds, 1),
        "drain_seconds": round(drained, 1),
        "end_to_end_sync": sync_latencies(clients, done),
        "backlog_series": backlog,
        "analyze_runs": analyzed,
        "server_autovacuum": await server_setting(topology.database_url, "autovacuum"),
        "stages": await stage_breakdown(topology.database_url, load_started_at),
        "counts": await final_counts(topology.database_url, clients),
        "metrics": metrics_report(before, after),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    base_url = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if not base_url:
        raise SystemExit("GATEWAY_TEST_POSTGRES_URL is not set: source /tmp/testenv.sh first")
    log_dir = Path(tempfile.mkdtemp(prefix="gateway-load-"))
    database_url = create_database(base_url, "load")
    redis = RedisServer(free_port())
    sampler: Sampler | None = None
    try:
        redis.start()
        topology = Topology(database_url, redis.url, apis=2, worker_count=0,
                            secret_key=SECRET_KEY, log_dir=log_dir)  # fmt: skip
        with topology:
            worker_ports = add_workers(topology, 2)
            processes = {p.name: p.pid for p in [*topology.api_processes, *topology.workers]}
            sampler = Sampler(processes | {"redis": redis.pid, "load-generator": os.getpid()})
            result = asyncio.run(drive(args, topology, worker_ports, sampler))
    finally:
        redis.stop()
        drop_database(database_url)
    assert sampler is not None
    result["memory"] = sampler.memory_report()
    result["memory_series"] = sampler.samples
    result["load_average"] = sampler.load_report()
    result["logs"] = str(log_dir)
    return result


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    sync = result["end_to_end_sync"]
    growth = max(
        (m.get("growth_first_to_last_third", 0.0) for m in result["memory"].values()), default=0
    )
    return {
        "sync_p95_le_2s": {
            "measured": sync["p95_s"],
            "met": sync["p95_s"] <= TARGETS["sync_p95_s"],
        },
        "written_ge_99.99%": {
            "measured": sync["written_ratio"],
            "met": (sync["written_ratio"] or 0) >= TARGETS["written_ratio"],
        },
        "memory_flat_10%": {"max_growth": growth, "met": growth <= TARGETS["memory_growth"]},
    }


def print_summary(doc: dict[str, Any]) -> None:
    result = doc["result"]
    print(f"\n=== mixed load: {doc['args']['duration']:.0f} s, {doc['args']['clients']} clients, "
          f"load average {result['load_average']} (2 cores, shared machine) ===")  # fmt: skip
    print(f"{'door':<18}{'ok/s':>8}{'sent':>7}{'err%':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for door, stats in result["doors"].items():
        latency = stats["latency"]
        print(f"{door:<18}{stats['throughput_per_s']:>8}{stats['sent']:>7}"
              f"{stats['error_rate'] * 100:>8.2f}{latency['p50_ms']:>9}{latency['p95_ms']:>9}"
              f"{latency['p99_ms']:>9}")  # fmt: skip
    sync, metrics = result["end_to_end_sync"], result["metrics"]
    print(
        f"end-to-end sync (sent → AMS write): p50 {sync['p50_s']} s, p95 {sync['p95_s']} s, "
        f"p99 {sync['p99_s']} s, max {sync['max_s']} s over {sync['records']} records"
    )
    print(
        f"workers' gateway_sync_latency_seconds: p95 ≈ {metrics['sync_latency_histogram_p95_s']}"
        f" s (bucket interpolation); AMS requests by code {metrics['ams_requests_by_code']}"
    )
    print(f"PostgreSQL autovacuum={result['server_autovacuum']}; the load test ran ANALYZE "
          f"{result['analyze_runs']} times (--analyze-every)")  # fmt: skip
    print(
        f"accepted records written: {sync['records']} / {sync['accepted_records']} "
        f"({sync['written_ratio']}); drain {result['drain_seconds']} s"
    )
    for door, stages in result["stages"].items():
        print(f"  stages {door}: {stages}")
    for name, counts in result["counts"].items():
        print(f"  {name}: {counts}")
    print(f"{'process':<16}{'first MB':>10}{'last MB':>10}{'max MB':>9}{'growth':>9}  flag")
    for name, memory in result["memory"].items():
        if "first_mb" in memory:
            print(
                f"{name:<16}{memory['first_mb']:>10}{memory['last_mb']:>10}{memory['max_mb']:>9}"
                f"{memory['growth_first_to_last_third'] * 100:>8.1f}%  {memory['flag']}"
            )
    for name, verdict in doc["targets"].items():
        print(f"target {name}: {verdict}")
    print(f"written to {doc['out']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=4, help="test clients (= AMS bases)")
    parser.add_argument("--batch", type=int, default=10, help="products per ingest call")
    parser.add_argument("--graphql-rate", type=float, default=1.0, help="ingestProducts/s")
    parser.add_argument("--rest-rate", type=float, default=1.0, help="POST /ingest/products/s")
    parser.add_argument("--webhook-rate", type=float, default=4.0, help="webhook deliveries/s")
    parser.add_argument("--poll-rate", type=float, default=4.0, help="job polls/s (REST+GraphQL)")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument(
        "--analyze-every", type=float, default=60.0,
        help="ANALYZE the database every N s (auto-analyze; 0: never, as autovacuum=off does)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS_DIR / f"load-mixed-{stamp}.json"
    result = run(args)
    doc: dict[str, Any] = {
        "benchmark": "load_mixed",
        "timestamp": stamp,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "env": {"python": platform.python_version(), "cpus": os.cpu_count(),
                "shape": "2 API processes, 2 arq workers, PostgreSQL, private redis-server"},
        "result": result,
        "out": str(out),
    }  # fmt: skip
    doc["targets"] = verdicts(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print_summary(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
