"""Ingest benchmark for the embedded default shape (SQLite file, in-process jobs), run on demand.

    .venv/bin/python tests/bench/bench_ingest.py [--records 100000] [--batch 1000] [--concurrency 4]

Starts ONE real `gateway serve` process on 127.0.0.1 with a fresh SQLite file in a temp dir, then:

1. warm-up: a few calls, drained;
2. accept rate: pushes --records realistic products (tests.helpers.shopify_product) through
   `ingestProducts` in --batch sized calls from --concurrency concurrent clients, with request
   bodies serialised before the clock starts; reports records/s and per-call latency percentiles;
3. worker throughput: waits until every job is done and computes records/s from the jobs' own
   startedAt/finishedAt timestamps (whole window, busy time, and only the jobs that ran after the
   push ended, i.e. with no concurrent API load);
4. server memory: VmRSS after everything above was ingested and processed, and VmHWM (peak);
5. single-call latency: --latency-calls sequential calls of --latency-batch records at concurrency
   1 (back to back, the target number), then the same with the worker idle before each call.

Prints a short report and writes tests/bench/results/ingest-<timestamp>.json. The server is
always stopped at the end (also on error or Ctrl-C). Not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from tests.helpers import shopify_product  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"

TARGETS = {
    "accept_records_per_s": (">=", 8000.0),
    "single_call_p95_ms": ("<=", 150.0),
    "worker_records_per_s": (">=", 10000.0),
    "rss_after_mb": ("<", 300.0),
}

INGEST_MUTATION = (
    "mutation Push($input: IngestProductsInput!) { ingestProducts(input: $input) "
    "{ job { id status } replayed errors { code message path } } }"
)
IDLE_QUERY = """query Idle {
  queued: jobs(first: 500, status: QUEUED) { nodes { id } pageInfo { hasNextPage } }
  processing: jobs(first: 500, status: PROCESSING) { nodes { id } pageInfo { hasNextPage } }
}"""
JOBS_QUERY = """query Jobs($after: String) {
  jobs(first: 500, after: $after, entity: PRODUCT) {
    nodes { id status startedAt finishedAt counters { received valid quarantined written } }
    pageInfo { endCursor hasNextPage }
  }
}"""
JOB_QUERY = "query Job($id: ID!) { job(id: $id) { id status startedAt finishedAt } }"
TERMINAL = {"SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED"}


class BenchError(RuntimeError):
    pass


# --------------------------------------------------------------------------- small helpers


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: list[float]) -> dict[str, float | int]:
    ms = [value * 1000.0 for value in seconds]
    return {
        "calls": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else math.nan,
        "mean_ms": round(sum(ms) / len(ms), 1) if ms else math.nan,
    }


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def proc_memory_mb(pid: int) -> dict[str, float]:
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = round(int(rest.split()[0]) / 1024.0, 1)  # kB -> MiB
    return found


def file_size_mb(*paths: Path) -> float:
    return round(sum(path.stat().st_size for path in paths if path.exists()) / 2**20, 1)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "app", "workers"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip() or None
    return f"{commit}+dirty" if commit and dirty.stdout.strip() else commit


# --------------------------------------------------------------------------- the server


class Server:
    """`gateway serve --json` as a child process in its own session; always stopped."""

    def __init__(
        self, workdir: Path, startup_timeout: float, env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.env = env or {}  # e.g. the scale-out shape's database, Redis and queue
        self.db_path = workdir / "bench.db"
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log_path = workdir / "server.log"
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.test_key: str | None = None
        self._log_file: Any = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        gateway = Path(sys.executable).parent / "gateway"
        if not gateway.exists():
            gateway = ROOT / ".venv" / "bin" / "gateway"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env |= {
            "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{self.db_path}",
            "GATEWAY_HOST": HOST,
            "GATEWAY_PORT": str(self.port),
            "GATEWAY_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        } | self.env
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [str(gateway), "serve", "--json"],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            start_new_session=True,
        )
        first_line = self._read_first_line()
        try:
            banner = orjson.loads(first_line)
        except orjson.JSONDecodeError as error:
            raise BenchError(f"server printed no JSON banner: {first_line[:300]!r}") from error
        self.test_key = banner.get("sandbox_test_key") or self.env.get("BENCH_TEST_KEY")
        if not self.test_key:
            raise BenchError(f"no sandbox_test_key in the banner (not a fresh database?): {banner}")
        self._wait_healthy()

    def _read_first_line(self) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        got: list[bytes] = []
        ready = threading.Event()

        def pump() -> None:  # first line for us, the rest into the log so the pipe never fills
            got.append(stdout.readline())
            ready.set()
            for line in iter(stdout.readline, b""):
                with contextlib.suppress(ValueError):
                    self._log_file.write(b"[stdout] " + line)

        threading.Thread(target=pump, name="server-stdout", daemon=True).start()
        if not ready.wait(self.startup_timeout) or not got[0]:
            raise BenchError(f"server did not print its banner in time\n{self.log_tail()}")
        return got[0]

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise BenchError(
                        f"server exited with {self.proc.returncode}\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/health").status_code == 200:
                        return
                time.sleep(0.1)
        raise BenchError(f"GET /health did not answer 200 in time\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def memory_mb(self) -> dict[str, float]:
        return proc_memory_mb(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "server log (tail):\n  " + "\n  ".join(text[-lines:])

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)  # its own session: the group is exactly ours
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


# --------------------------------------------------------------------------- requests


class Numbers:
    """Hands out distinct product numbers, so every pushed record is a new canonical record."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> range:
        taken = range(self.next, self.next + count)
        self.next += count
        return taken


@dataclass
class Body:
    content: bytes
    records: int


def build_bodies(numbers: Numbers, total: int, batch: int, tag: str) -> list[Body]:
    bodies = []
    remaining = total
    index = 0
    while remaining > 0:
        size = min(batch, remaining)
        records = [shopify_product(number) for number in numbers.take(size)]
        payload = {
            "query": INGEST_MUTATION,
            "variables": {"input": {"records": records, "idempotencyKey": f"{tag}-{index}"}},
        }
        bodies.append(Body(orjson.dumps(payload), size))
        remaining -= size
        index += 1
    return bodies


def new_client(server: Server, timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url,
        headers={
            "Authorization": f"Bearer {server.test_key}",
            "Content-Type": "application/json",
        },
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        trust_env=False,  # never a proxy: only 127.0.0.1
    )


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", content=orjson.dumps({"query": query, "variables": variables or {}})
    )
    return checked_data(response)


def checked_data(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise BenchError(f"HTTP {response.status_code}: {response.text[:500]}")
    body = orjson.loads(response.content)
    if body.get("errors"):
        raise BenchError(f"GraphQL errors: {str(body['errors'])[:500]}")
    data: dict[str, Any] = body["data"]
    return data


async def push(client: httpx.AsyncClient, body: Body) -> tuple[float, str]:
    """One ingest call; returns (seconds, job id)."""
    started = time.perf_counter()
    response = await client.post("/graphql", content=body.content)
    elapsed = time.perf_counter() - started
    result = checked_data(response)["ingestProducts"]
    if result["errors"] or result["job"] is None or result["replayed"]:
        raise BenchError(f"ingest call rejected: {result}")
    return elapsed, str(result["job"]["id"])


@dataclass
class PushResult:
    wall_s: float
    started_at: datetime
    ended_at: datetime
    latencies_s: list[float] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)


async def push_all(
    server: Server, bodies: list[Body], concurrency: int, call_timeout: float
) -> PushResult:
    """--concurrency clients, each taking the next body as soon as its previous call returned."""
    queue: asyncio.Queue[Body] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    job_ids: list[str] = []

    async def client_loop() -> None:
        async with new_client(server, call_timeout) as client:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                elapsed, job_id = await push(client, body)
                latencies.append(elapsed)
                job_ids.append(job_id)

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(bodies))):
                group.create_task(client_loop())
    except ExceptionGroup as failed:  # report the first client's error, not the group
        first = failed.exceptions[0]
        raise BenchError(f"push failed: {type(first).__name__}: {first}") from failed
    wall = time.perf_counter() - started
    return PushResult(wall, started_at, datetime.now(UTC), latencies, job_ids)


# --------------------------------------------------------------------------- jobs


async def wait_idle(
    client: httpx.AsyncClient, server: Server, limit_s: float, poll: float, label: str
) -> float:
    """Poll until no job is QUEUED or PROCESSING; returns the seconds waited."""
    started = time.perf_counter()
    last_report = started
    while True:
        if not server.alive():
            raise BenchError(f"server died while draining ({label})\n{server.log_tail()}")
        data = await graphql(client, IDLE_QUERY)
        queued, processing = data["queued"], data["processing"]
        if not queued["nodes"] and not processing["nodes"]:
            return time.perf_counter() - started
        now = time.perf_counter()
        if now - started > limit_s:
            raise BenchError(f"jobs not finished after {limit_s:.0f}s ({label})")
        if now - last_report >= 5.0:
            more = "+" if queued["pageInfo"]["hasNextPage"] else ""
            print(f"    … {label}: {len(queued['nodes'])}{more} queued, {now - started:.0f}s")
            last_report = now
        await asyncio.sleep(poll)


async def fetch_jobs(client: httpx.AsyncClient, job_ids: list[str]) -> list[dict[str, Any]]:
    wanted = set(job_ids)
    found: dict[str, dict[str, Any]] = {}
    after: str | None = None
    while True:
        page = (await graphql(client, JOBS_QUERY, {"after": after}))["jobs"]
        for node in page["nodes"]:
            if node["id"] in wanted:
                found[node["id"]] = node
        if len(found) == len(wanted) or not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    missing = wanted - set(found)
    if missing:
        raise BenchError(f"{len(missing)} jobs not listed, e.g. {sorted(missing)[:3]}")
    return [found[job_id] for job_id in job_ids]


def check_jobs(jobs: list[dict[str, Any]], expected_records: int) -> dict[str, int]:
    statuses: dict[str, int] = {}
    for job in jobs:
        statuses[job["status"]] = statuses.get(job["status"], 0) + 1
    received = sum(job["counters"]["received"] for job in jobs)
    written = sum(job["counters"]["written"] for job in jobs)
    if statuses != {"SUCCEEDED": len(jobs)} or written != expected_records:
        raise BenchError(
            f"jobs did not all succeed: statuses={statuses}, received={received}, "
            f"written={written}, expected={expected_records}"
        )
    return {"jobs": len(jobs), "received": received, "written": written}


def worker_rates(jobs: list[dict[str, Any]], push: PushResult) -> dict[str, Any]:
    spans = []
    for job in jobs:
        started, finished = parse_ts(job["startedAt"]), parse_ts(job["finishedAt"])
        if started is None or finished is None:
            raise BenchError(f"job {job['id']} has no startedAt/finishedAt")
        spans.append((started, finished, int(job["counters"]["received"])))
    records = sum(count for _, _, count in spans)
    first_start = min(start for start, _, _ in spans)
    last_finish = max(finish for _, finish, _ in spans)
    window = (last_finish - first_start).total_seconds()
    busy = sum((finish - start).total_seconds() for start, finish, _ in spans)
    durations = [(finish - start).total_seconds() for start, finish, _ in spans]

    # Jobs that started after the last ingest call returned ran with no concurrent API load
    # (only this script's polling).
    quiet = [span for span in spans if span[0] >= push.ended_at]
    quiet_rate = None
    if quiet:
        quiet_window = (max(f for _, f, _ in quiet) - min(s for s, _, _ in quiet)).total_seconds()
        quiet_rate = round(sum(c for _, _, c in quiet) / quiet_window) if quiet_window else None
    end_to_end = (last_finish - push.started_at).total_seconds()
    return {
        "records": records,
        "window_s": round(window, 3),
        "records_per_s": round(records / window) if window else None,
        "busy_s": round(busy, 3),
        "busy_records_per_s": round(records / busy) if busy else None,
        "job_duration": latency_summary(durations),
        "quiet_jobs": len(quiet),
        "quiet_records": sum(c for _, _, c in quiet),
        "quiet_records_per_s": quiet_rate,
        "backlog_s_after_push": round((last_finish - push.ended_at).total_seconds(), 3),
        "end_to_end_s": round(end_to_end, 3),
        "end_to_end_records_per_s": round(records / end_to_end) if end_to_end else None,
    }


async def wait_job(client: httpx.AsyncClient, job_id: str, limit_s: float) -> dict[str, Any]:
    deadline = time.perf_counter() + limit_s
    while True:
        job = (await graphql(client, JOB_QUERY, {"id": job_id}))["job"]
        if job and job["status"] in TERMINAL:
            return dict(job)
        if time.perf_counter() > deadline:
            raise BenchError(f"job {job_id} not finished after {limit_s:.0f}s")
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------- phases


async def run_bench(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    numbers = Numbers()
    result: dict[str, Any] = {}
    drain_timeout = args.drain_timeout or max(300.0, args.records / 100.0)
    async with new_client(server, args.timeout) as poller:
        # warm-up: imports, caches, SQLite pages, strawberry schema paths
        print(f"  warm-up: {args.warmup_calls} calls x {args.batch} records …")
        warmup = build_bodies(numbers, args.warmup_calls * args.batch, args.batch, "warmup")
        await push_all(server, warmup, args.concurrency, args.timeout)
        await wait_idle(poller, server, drain_timeout, args.poll, "warm-up")

        # accept rate
        print(f"  building {args.records} records in calls of {args.batch} …")
        bodies = build_bodies(numbers, args.records, args.batch, "main")
        body_mb = sum(len(body.content) for body in bodies) / 2**20
        calls, concurrency = len(bodies), args.concurrency
        print(f"  pushing {calls} calls ({body_mb:.0f} MiB), concurrency {concurrency} …")
        pushed = await push_all(server, bodies, args.concurrency, args.timeout)
        del bodies
        accept_rate = args.records / pushed.wall_s
        result["accept"] = {
            "records": args.records,
            "calls": len(pushed.latencies_s),
            "batch": args.batch,
            "concurrency": args.concurrency,
            "body_mib": round(body_mb, 1),
            "wall_s": round(pushed.wall_s, 3),
            "records_per_s": round(accept_rate),
            "latency": latency_summary(pushed.latencies_s),
        }
        print(f"    accepted {accept_rate:,.0f} records/s in {pushed.wall_s:.2f}s")

        # worker throughput
        waited = await wait_idle(poller, server, drain_timeout, args.poll, "main")
        jobs = await fetch_jobs(poller, pushed.job_ids)
        result["jobs_check"] = check_jobs(jobs, args.records)
        result["worker"] = worker_rates(jobs, pushed) | {"drain_wait_s": round(waited, 3)}
        print(f"    worker {result['worker']['records_per_s']:,} records/s (job timestamps)")

        # memory after everything was ingested and processed
        result["memory_after_main_mb"] = server.memory_mb()
        result["db_size_after_main_mb"] = file_size_mb(
            server.db_path,
            server.db_path.with_name("bench.db-wal"),
            server.db_path.with_name("bench.db-shm"),
        )

        # single-call latency at concurrency 1
        if args.latency_calls > 0:
            lat_batch, calls = args.latency_batch, args.latency_calls
            print(f"  single-call latency: {calls} sequential calls x {lat_batch} records …")
            sequential = build_bodies(numbers, calls * lat_batch, lat_batch, "latency")
            seq = await push_all(server, sequential, 1, args.timeout)
            await wait_idle(poller, server, drain_timeout, args.poll, "latency")
            check_jobs(await fetch_jobs(poller, seq.job_ids), calls * lat_batch)
            result["single_call"] = {
                "batch": lat_batch,
                "mode": "back-to-back, in-process worker busy with the previous calls",
                "latency": latency_summary(seq.latencies_s),
                "records_per_s": round(calls * lat_batch / seq.wall_s),
            }

            print(f"  idle-server latency: {calls} calls, each after the previous job finished …")
            isolated = build_bodies(numbers, calls * lat_batch, lat_batch, "isolated")
            latencies, job_spans = [], []
            async with new_client(server, args.timeout) as client:
                for body in isolated:
                    elapsed, job_id = await push(client, body)
                    latencies.append(elapsed)
                    job = await wait_job(poller, job_id, drain_timeout)
                    started, finished = parse_ts(job["startedAt"]), parse_ts(job["finishedAt"])
                    assert started and finished
                    job_spans.append((finished - started).total_seconds())
            result["single_call_idle"] = {
                "batch": lat_batch,
                "mode": "sequential, worker idle when each call is made",
                "latency": latency_summary(latencies),
                "job_duration": latency_summary(job_spans),
                "worker_records_per_s_per_job_p50": round(lat_batch / percentile(job_spans, 50)),
            }
        result["memory_end_mb"] = server.memory_mb()
    return result


# --------------------------------------------------------------------------- report


def verdicts(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    measured = {
        "accept_records_per_s": result["accept"]["records_per_s"],
        "single_call_p95_ms": result.get("single_call", {}).get("latency", {}).get("p95_ms"),
        "worker_records_per_s": result["worker"]["records_per_s"],
        "rss_after_mb": result["memory_after_main_mb"].get("VmRSS"),
    }
    out = {}
    for name, (op, target) in TARGETS.items():
        value = measured[name]
        ok = None
        if value is not None:
            ok = {">=": value >= target, "<=": value <= target, "<": value < target}[op]
        out[name] = {"value": value, "target": f"{op} {target:g}", "ok": ok}
    return out


def print_report(doc: dict[str, Any]) -> None:
    r = doc["result"]
    acc, work = r["accept"], r["worker"]
    v = doc["targets"]

    def mark(name: str) -> str:
        ok = v[name]["ok"]
        return "n/a " if ok is None else ("PASS" if ok else "FAIL")

    lat = acc["latency"]
    print()
    print(f"Ingest benchmark — {doc['timestamp']}  (commit {doc['env']['commit']})")
    print(
        f"  {acc['records']:,} products, {acc['calls']} calls x {acc['batch']}, "
        f"concurrency {acc['concurrency']}, {doc['env']['cpus']} CPUs, embedded SQLite"
    )
    print(f"  {'metric':<44}{'measured':>14}   {'target':<12}")
    rows = [
        ("accept rate (records/s)", f"{acc['records_per_s']:,}", "accept_records_per_s"),
        (
            f"  call latency p50/p95/p99 (ms, {acc['batch']}/call)",
            f"{lat['p50_ms']:.0f}/{lat['p95_ms']:.0f}/{lat['p99_ms']:.0f}",
            None,
        ),
    ]
    if "single_call" in r:
        sc, si = r["single_call"]["latency"], r["single_call_idle"]["latency"]
        rows += [
            (
                f"single {r['single_call']['batch']}-record call p95 (ms)",
                f"{sc['p95_ms']:.0f}",
                "single_call_p95_ms",
            ),
            ("  p50/p99 back-to-back (ms)", f"{sc['p50_ms']:.0f}/{sc['p99_ms']:.0f}", None),
            (
                "  p50/p95 with idle worker (ms)",
                f"{si['p50_ms']:.0f}/{si['p95_ms']:.0f}",
                None,
            ),
        ]
    rows += [
        (
            "worker (records/s, job timestamps)",
            f"{work['records_per_s']:,}",
            "worker_records_per_s",
        ),
        ("  busy-time rate (records/s)", f"{work['busy_records_per_s']:,}", None),
        (
            f"  no API load ({work['quiet_jobs']} jobs after push)",
            f"{work['quiet_records_per_s']:,}" if work["quiet_records_per_s"] else "n/a",
            None,
        ),
    ]
    if "single_call_idle" in r:
        rows.append(
            (
                "  one idle job, p50 (records/s)",
                f"{r['single_call_idle']['worker_records_per_s_per_job_p50']:,}",
                None,
            )
        )
    rows += [
        (
            "  end-to-end push->stored (records/s)",
            f"{work['end_to_end_records_per_s']:,}",
            None,
        ),
        (
            "server RSS after main run (MiB)",
            f"{r['memory_after_main_mb']['VmRSS']:.0f}",
            "rss_after_mb",
        ),
        (
            "  peak VmHWM after main / at end (MiB)",
            f"{r['memory_after_main_mb']['VmHWM']:.0f}/{r['memory_end_mb']['VmHWM']:.0f}",
            None,
        ),
        ("  RSS at end (MiB)", f"{r['memory_end_mb']['VmRSS']:.0f}", None),
        ("database size after main run (MiB)", f"{r['db_size_after_main_mb']:.0f}", None),
    ]
    for label, value, target in rows:
        target_text = f"{v[target]['target']:<12} {mark(target)}" if target else ""
        print(f"  {label:<44}{value:>14}   {target_text}")
    print(f"  result: {doc['result_file']}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records in the main push")
    parser.add_argument("--batch", type=int, default=1000, help="records per ingest call")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients")
    parser.add_argument("--warmup-calls", type=int, default=3)
    parser.add_argument("--latency-calls", type=int, default=50, help="0 skips that phase")
    parser.add_argument("--latency-batch", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=120.0, help="per HTTP call, seconds")
    parser.add_argument("--drain-timeout", type=float, default=0.0, help="0: from --records")
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument("--poll", type=float, default=0.25, help="job polling interval, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (db and log)")
    args = parser.parse_args(argv)
    for name in ("records", "batch", "concurrency", "latency_batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("batch", "latency_batch"):
        if getattr(args, name) > 5000:
            parser.error(f"--{name.replace('_', '-')}: the gateway accepts at most 5000 per call")
    return args


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so the finally blocks stop the server."""

    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    server = Server(workdir, args.startup_timeout)
    try:
        with terminate_on_sigterm():
            print(f"starting gateway serve on {server.base_url} (db {server.db_path}) …")
            server.start()
            print(f"  server pid {server.pid}, RSS {server.memory_mb().get('VmRSS')} MiB")
            result = asyncio.run(run_bench(server, args))
    except (BenchError, httpx.HTTPError) as error:
        print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
        if server.proc is not None:
            print(server.log_tail(), file=sys.stderr)
        return 1
    finally:
        server.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result_file = RESULTS_DIR / f"ingest-{stamp}.json"
    doc: dict[str, Any] = {
        "benchmark": "ingest",
        "timestamp": stamp,
        "args": vars(args),
        "env": {
            "commit": git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "shape": "embedded: SQLite file, in-process jobs, one API process",
        },
        "result": result,
        "result_file": str(result_file.relative_to(ROOT)),
    }
    doc["targets"] = verdicts(result)
    result_file.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    print_report(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
