"""Asset storing benchmark, run on demand: assets/s for 100 KB images fetched from a local origin
and stored into the sandbox Drive through the real google client.

    .venv/bin/python tests/bench/bench_assets.py [--assets 200] [--size 100000] [--concurrency 1 4]

Starts one real `gateway serve` process (fresh SQLite file in a temp dir) whose sandbox Drive
receives the uploads, and a local HTTP origin serving distinct PNG-typed files. This process
creates a test client, provisions it (timed), then for each concurrency level:

1. new assets: fetch + upload (multipart) — the first push of a catalog;
2. unchanged assets: fetch + lookup, nothing uploaded — a re-push;
3. unchanged assets with a declared sha256: lookup only.

Prints assets/s and per-asset latency percentiles. The server is always stopped at the end.
Not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import ipaddress
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.assets.service import StoreOutcome, asset_folders, store_asset  # noqa: E402
from app.integrations.routing import ams_for  # noqa: E402
from app.logs import configure_logging  # noqa: E402
from app.provisioning import service as provisioning  # noqa: E402
from app.services import Services  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tenancy import service as tenancy  # noqa: E402
from app.tenancy.models import KeyMode, Tenant  # noqa: E402
from tests.bench.bench_ingest import Server, percentile  # noqa: E402
from tests.unit.test_asset_fetch_origin import Origin, running_origin  # noqa: E402


def image_asset(number: int, url: str, sha256: str | None = None) -> dict[str, Any]:
    asset = {
        "external_id": f"img-{number}",
        "source_platform": "shopify",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "kind": "image",
        "source_url": url,
        "mime_type": "image/png",
    }
    return asset | ({"sha256": sha256} if sha256 else {})


async def timed_pass(
    store: Any, assets: list[dict[str, Any]], concurrency: int, expected: StoreOutcome
) -> dict[str, float]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(asset: dict[str, Any]) -> str:
        async with gate:
            started = time.perf_counter()
            stored = await store(asset)
            latencies.append(time.perf_counter() - started)
            if stored.outcome is not expected:
                raise RuntimeError(f"{asset['external_id']}: {stored.outcome}, not {expected}")
            return str(stored.sha256)

    started = time.perf_counter()
    await asyncio.gather(*(one(asset) for asset in assets))
    elapsed = time.perf_counter() - started
    return {
        "assets_per_s": round(len(assets) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
    }


async def run(server: Server, origin: Origin, args: argparse.Namespace) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{server.db_path}",
        host="127.0.0.1",
        port=server.port,
        log_level="WARNING",
        asset_fetch_sandbox_allowed_networks=[ipaddress.IPv4Network("127.0.0.1/32")],
    )
    services = Services.create(settings)
    try:
        async with services.sessions() as session, session.begin():
            client = await tenancy.create_client(session, "Bench Assets")
            await tenancy.create_key(session, client.id, KeyMode.TEST)
        tenant = Tenant(client.id, livemode=False)
        started = time.perf_counter()
        await provisioning.provision(services, tenant)
        print(f"provisioning: {time.perf_counter() - started:.2f} s")
        folders = await asset_folders(services, tenant)
        ams = ams_for(tenant, settings)

        async def store(asset: dict[str, Any]) -> Any:
            return await store_asset(services, tenant, asset, folders, ams=ams)

        for level, concurrency in enumerate(args.concurrency):
            numbers = range(level * args.assets, (level + 1) * args.assets)
            urls = {
                n: origin.serve(f"{n}.png", os.urandom(args.size), "image/png") for n in numbers
            }
            assets = [image_asset(n, urls[n]) for n in numbers]
            new = await timed_pass(store, assets, concurrency, StoreOutcome.CREATED)
            unchanged = await timed_pass(store, assets, concurrency, StoreOutcome.UNCHANGED)
            declared = [
                image_asset(n, urls[n], hashlib.sha256(origin.files[f"{n}.png"].data).hexdigest())
                for n in numbers
            ]
            known = await timed_pass(store, declared, concurrency, StoreOutcome.UNCHANGED)
            print(
                f"concurrency {concurrency}, {args.assets} x {args.size} B:"
                f"\n  new (fetch + upload)      {new}"
                f"\n  unchanged (fetch + find)  {unchanged}"
                f"\n  declared sha256 (find)    {known}"
            )
    finally:
        await services.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="bench-assets-") as workdir:
        server = Server(Path(workdir), startup_timeout=60)
        try:
            server.start()
            with running_origin() as origin:
                asyncio.run(run(server, origin, args))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
