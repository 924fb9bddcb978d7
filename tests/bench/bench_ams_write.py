"""AMS write benchmark against the gateway's own Airtable emulator with its real limits
(5 requests/s per base, 30-second penalty), run on demand:

    .venv/bin/python tests/bench/bench_ams_write.py [--records 1000] [--bases 4] [--repush 10000]

The gateway (and so the emulator) runs as its own `gateway serve` process on a fresh SQLite file;
the syncs run here, through a pacer that records when each request went out and each 429 it was
told about. Phases:

1. provisioning: a new client's base, folders and config, timed;
2. one base: --records canonical records synced to one base (records/s, 429s, requests);
3. parallel bases: --bases clients with --records each, synced at once (speed-up over one);
4. unchanged re-push: a --repush catalog stored and recorded as synced (see `seed_synced`), then
   pushed again through ingestProducts: time until the jobs and the sync are done, and the
   write requests sent.

Prints a report and writes tests/bench/results/ams-write-<timestamp>.json. Not part of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
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
from sqlalchemy import func, select  # noqa: E402

from app.ams.due import mark_sync_due  # noqa: E402
from app.ams.pacing import Pacer, make_pacer  # noqa: E402
from app.ams.service import AmsRuntime, SyncRun, run_sync  # noqa: E402
from app.contracts.entities import Entity  # noqa: E402
from app.db.engine import create_engine, create_session_factory  # noqa: E402
from app.db.migrate import upgrade_to_head  # noqa: E402
from app.provisioning import service as provisioning  # noqa: E402
from app.records.service import upsert  # noqa: E402
from app.records.validation import ValidRecord, validate_record  # noqa: E402
from app.sandbox.airtable.models import SandboxRecord  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tenancy import service as tenancy  # noqa: E402
from app.tenancy.models import KeyMode, Tenant  # noqa: E402
from tests.helpers import seed_synced, shopify_product  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGETS = {
    "one_base_records_per_s": (">=", 47.5),
    "one_base_429s": ("==", 0),
    "parallel_speedup": (">=", 3.8),
    "parallel_429s": ("==", 0),
    "repush_write_requests": ("==", 0),
    "repush_seconds": ("<", 10.0),
    "provisioning_seconds": ("<", 5.0),
}
INGEST = (
    "mutation Push($input: IngestProductsInput!) { ingestProducts(input: $input) "
    "{ job { id } errors { code message } } }"
)
STATE = (
    "{ viewer { amsSync { entities { entity lastSyncedAt written unchanged pending "
    "airtableRequests } } } }"
)
JOB = "query Job($id: ID!) { job(id: $id) { status finishedAt } }"


def settings_for(directory: Path, name: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "port": _free_port(),
        "database_url": f"sqlite+aiosqlite:///{directory / name}.db",
        "log_level": "WARNING",
        "secret_key": "bench-secret-key",
        "sandbox_blob_dir": directory / f"{name}-blobs",
        "sweeper_interval_seconds": 3600.0,  # syncs here are run by the benchmark itself
    }
    return Settings(**(values | overrides))


async def migrated(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    await upgrade_to_head(engine)
    await engine.dispose()


async def new_client(runtime: AmsRuntime, name: str) -> tuple[Tenant, str]:
    async with runtime.sessions() as session, session.begin():
        client = await tenancy.create_client(session, name)
        key = await tenancy.create_key(session, client.id, KeyMode.TEST)
    return Tenant(client.id, False), key.secret


def catalog(count: int, offset: int = 0) -> list[ValidRecord]:
    found = [
        validate_record(Entity.PRODUCT, orjson.dumps(shopify_product(offset + n)))
        for n in range(count)
    ]
    return [record for record in found if isinstance(record, ValidRecord)]


async def store(runtime: AmsRuntime, tenant: Tenant, records: list[ValidRecord]) -> None:
    async with runtime.sessions() as session, session.begin():
        await upsert(session, tenant, Entity.PRODUCT, "job_bench", records)
        await mark_sync_due(session, tenant, Entity.PRODUCT)


class RecordingPacer:
    """The real pacer, noting when each request was let out and each 429 reported."""

    def __init__(self, inner: Pacer) -> None:
        self.inner = inner
        self.sent: dict[str, list[float]] = {}
        self.penalties = 0

    async def acquire(self, base_id: str) -> None:
        await self.inner.acquire(base_id)
        self.sent.setdefault(base_id, []).append(time.monotonic())

    async def penalise(self, base_id: str, seconds: float) -> None:
        self.penalties += 1
        await self.inner.penalise(base_id, seconds)

    async def close(self) -> None:
        await self.inner.close()

    def reset(self) -> None:
        self.sent, self.penalties = {}, 0

    def sustained(self, records_per_request: int = 10) -> float:
        """Records/s per base in steady state: full batches after the first, over the time from
        the first request to the last (averaged over bases)."""
        rates = [
            (len(sent) - 1) * records_per_request / (sent[-1] - sent[0])
            for sent in self.sent.values()
            if len(sent) > 1
        ]
        return round(sum(rates) / len(rates), 2) if rates else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gateway_process(settings: Settings) -> Any:
    """`gateway serve` on its own port and process, stopped at the end (by its pid)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | {
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_HOST": settings.host,
        "GATEWAY_PORT": str(settings.port),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_SECRET_KEY": settings.secret_key,
        "GATEWAY_SANDBOX_BLOB_DIR": str(settings.sandbox_blob_dir),
        "GATEWAY_SWEEPER_INTERVAL_SECONDS": str(settings.sweeper_interval_seconds),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120  # a busy machine can take 40 s to import the app
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{settings.sandbox_url}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=20)


def runtime_for(settings: Settings) -> tuple[AmsRuntime, RecordingPacer]:
    pacer = RecordingPacer(make_pacer(settings))
    sessions = create_session_factory(create_engine(settings.database_url))
    return AmsRuntime(settings, sessions, pacer), pacer


async def timed_sync(runtime: AmsRuntime, tenant: Tenant) -> tuple[SyncRun, float]:
    started = time.perf_counter()
    run = await run_sync(runtime, tenant, Entity.PRODUCT)
    assert run is not None, "the sync did not run"
    return run, time.perf_counter() - started


async def limited_phases(directory: Path, records: int, bases: int) -> dict[str, Any]:
    settings = settings_for(directory, "limited")
    runtime, pacer = runtime_for(settings)
    with gateway_process(settings):
        try:
            tenant, _ = await new_client(runtime, "Bench Provisioning")
            started = time.perf_counter()
            await provisioning.provision(runtime, tenant)
            provisioning_seconds = time.perf_counter() - started

            clients = [(await new_client(runtime, f"Bench {n}"))[0] for n in range(bases)]
            for client in clients:
                await provisioning.provision(runtime, client)
                await store(runtime, client, catalog(records))
            await asyncio.sleep(1.5)  # every base's rate-limit bucket full again

            pacer.reset()
            run, seconds = await timed_sync(runtime, clients[0])
            one = {
                "records": run.written,
                "seconds": round(seconds, 2),
                "records_per_s": round(run.written / seconds, 2),
                "sustained_records_per_s": pacer.sustained(),
                "requests": run.requests,
                "requests_per_1000_records": round(run.requests * 1000 / max(run.written, 1), 1),
                "429s": pacer.penalties,
            }
            for client in clients:  # every record changes: the next sync rewrites them all
                changed = [shopify_product(n, name=f"Renamed {n}") for n in range(records)]
                valid = [validate_record(Entity.PRODUCT, orjson.dumps(p)) for p in changed]
                await store(runtime, client, [v for v in valid if isinstance(v, ValidRecord)])
            await asyncio.sleep(1.5)
            pacer.reset()
            started = time.perf_counter()
            runs = await asyncio.gather(*(run_sync(runtime, c, Entity.PRODUCT) for c in clients))
            parallel_seconds = time.perf_counter() - started
            written = sum(r.written for r in runs if r is not None)
            changed_one = runs[0].requests if runs[0] else 0
            parallel = {
                "bases": bases,
                "records": written,
                "seconds": round(parallel_seconds, 2),
                "records_per_s": round(written / parallel_seconds, 2),
                "speedup": round((written / parallel_seconds) / one["records_per_s"], 2),
                "sustained_records_per_s_per_base": pacer.sustained(),
                "requests_per_1000_changed_records": round(changed_one * 1000 / records, 1),
                "429s": pacer.penalties,
            }
            return {
                "provisioning_seconds": round(provisioning_seconds, 2),
                "one": one,
                "parallel": parallel,
            }
        finally:
            await runtime.close()


async def until(check: Any, within: float = 1200) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise RuntimeError("timed out")


async def repush_phase(directory: Path, count: int) -> dict[str, Any]:
    settings = settings_for(directory, "repush", sweeper_interval_seconds=1.0)
    url = settings.sandbox_url
    runtime, _ = runtime_for(settings)
    with gateway_process(settings):
        return await _repush(runtime, url, count)


async def _repush(runtime: AmsRuntime, url: str, count: int) -> dict[str, Any]:
    try:
        tenant, secret = await new_client(runtime, "Bench Repush")
        await provisioning.provision(runtime, tenant)
        await seed_synced(runtime, tenant, catalog(count))
        products = [shopify_product(n) for n in range(count)]
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as client:

            async def gql(query: str, variables: dict[str, Any] | None = None) -> Any:
                response = await client.post(
                    "/graphql", json={"query": query, "variables": variables}
                )
                body = response.json()
                assert "errors" not in body, body
                return body["data"]

            async def synced(ids: list[str]) -> Any:
                for job_id in ids:
                    status = (await gql(JOB, {"id": job_id}))["job"]["status"]
                    if status in {"QUEUED", "PROCESSING"}:
                        return None
                entities = (await gql(STATE))["viewer"]["amsSync"]["entities"]
                state = next((e for e in entities if e["entity"] == "PRODUCT"), None)
                if state is None or state["pending"] or not state["lastSyncedAt"]:
                    return None
                return state

            started, wall = time.perf_counter(), datetime.now(UTC)
            pushed = []
            for start in range(0, count, 5000):
                data = await gql(INGEST, {"input": {"records": products[start : start + 5000]}})
                pushed.append(data["ingestProducts"]["job"]["id"])
            state = await until(lambda: synced(pushed))
            seconds = time.perf_counter() - started
            finished = [(await gql(JOB, {"id": job_id}))["job"]["finishedAt"] for job_id in pushed]
            jobs_done = max(datetime.fromisoformat(at) for at in finished)
            sync_done = datetime.fromisoformat(state["lastSyncedAt"])
        return {
            "records": count,
            "seconds": round(seconds, 2),
            "jobs_done_after_seconds": round((jobs_done - wall).total_seconds(), 2),
            "sync_done_after_jobs_seconds": round((sync_done - jobs_done).total_seconds(), 2),
            "write_requests": state["airtableRequests"],
            "airtable_rows": await airtable_rows(runtime),
            "written": state["written"],
            "unchanged": state["unchanged"],
        }
    finally:
        await runtime.close()


async def airtable_rows(runtime: AmsRuntime) -> int:
    """Rows in the emulator: the seeded catalog was never written there, so any write shows."""
    async with runtime.sessions() as session:
        found = await session.scalar(select(func.count()).select_from(SandboxRecord))
    return int(found or 0)


def verdicts(results: dict[str, Any]) -> dict[str, Any]:
    measured = {
        "one_base_records_per_s": results["one"]["sustained_records_per_s"],
        "one_base_429s": results["one"]["429s"],
        "parallel_speedup": results["parallel"]["speedup"],
        "parallel_429s": results["parallel"]["429s"],
        "repush_write_requests": results["repush"]["write_requests"]
        + results["repush"]["airtable_rows"],
        "repush_seconds": results["repush"]["seconds"],
        "provisioning_seconds": results["provisioning_seconds"],
    }
    checks = {">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "==": lambda a, b: a == b}
    return {
        name: {
            "value": value,
            "target": f"{TARGETS[name][0]} {TARGETS[name][1]}",
            "ok": checks[TARGETS[name][0]](value, TARGETS[name][1]),
        }
        for name, value in measured.items()
    }


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ams-bench-") as folder:
        directory = Path(folder)
        for name in ("limited", "repush"):
            await migrated(settings_for(directory, name))
        results = await limited_phases(directory, arguments.records, arguments.bases)
        print(orjson.dumps(results).decode(), file=sys.stderr, flush=True)
        results["repush"] = await repush_phase(directory, arguments.repush)
    results["verdicts"] = verdicts(results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000, help="records per base")
    parser.add_argument("--bases", type=int, default=4)
    parser.add_argument("--repush", type=int, default=10_000, help="catalog size re-pushed")
    found = asyncio.run(main(parser.parse_args()))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"ams-write-{stamp}.json").write_bytes(
        orjson.dumps(found, option=orjson.OPT_INDENT_2)
    )
    print(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
    sys.exit(0 if all(v["ok"] for v in found["verdicts"].values()) else 1)
