"""Cost of authentication + authorisation + metering per request, run on demand.

    .venv/bin/python tests/bench/bench_auth.py [--requests 3000] [--database-url URL]

In one process (the app on httpx's in-memory ASGI transport, embedded SQLite by default):
- p50/p95 of `GET /health` (no key) against `GET /auth-probe`-like work: the same health route
  with a key resolved, authorised and metered around it (the exact dependency REST handlers use),
  so the difference is what a key costs a request;
- p50 of authenticate() for an unknown key vs a known key with a wrong secret vs the right key
  (timing must not tell an attacker which lookups exist).
Prints a report; not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from litestar import Request, get  # noqa: E402

from app.api.auth import principal_for  # noqa: E402
from app.asgi import create_app  # noqa: E402
from app.db.engine import reading  # noqa: E402
from app.db.migrate import upgrade_to_head  # noqa: E402
from app.errors import AuthenticationError  # noqa: E402
from app.services import Services  # noqa: E402
from app.tenancy import policy  # noqa: E402
from app.tenancy import service as tenancy  # noqa: E402
from app.tenancy.models import KeyMode  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

PROBE_PATH = "/bench/authenticated-health"


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _timed_gets(client: httpx.AsyncClient, path: str, headers: dict[str, str], n: int):
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return samples


async def _auth_timings(services: Services, keys: dict[str, str], n: int) -> dict[str, float]:
    results = {}
    for name, secret in keys.items():
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            async with reading(services.sessions) as session:
                with contextlib.suppress(AuthenticationError):
                    await tenancy.authenticate(session, secret)
            samples.append((time.perf_counter() - started) * 1000)
        results[name] = statistics.median(samples)
    return results


async def main(requests: int, database_url: str | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    url = database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    settings = make_settings(url, log_level="ERROR", key_cache_seconds=1.0)  # the default
    services = Services.create(settings)
    await upgrade_to_head(services.engine)
    async with services.sessions() as session, session.begin():
        client = await tenancy.create_client(session, "Bench")
        created = await tenancy.create_key(session, client.id, KeyMode.TEST)

    @get(PROBE_PATH, dependencies={"principal": principal_for(policy.READ)}, sync_to_thread=False)
    def authenticated_health(principal: object, request: Request) -> dict[str, str]:  # type: ignore[type-arg]
        return {"status": "ok"}

    app = create_app(settings, services)
    app.register(authenticated_health)
    await services.start()
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {created.secret}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        await _timed_gets(http, "/health", {}, 200)  # warm-up
        await _timed_gets(http, PROBE_PATH, headers, 200)
        plain = await _timed_gets(http, "/health", {}, requests)
        keyed = await _timed_gets(http, PROBE_PATH, headers, requests)
    wrong = created.secret[:-4] + "0000"
    unknown = "gw_test_000000000000_" + "0" * 48
    timings = await _auth_timings(
        services, {"unknown key": unknown, "wrong secret": wrong, "right key": created.secret}, 2000
    )
    await services.stop()

    print(f"database: {url.split(':', 1)[0]}   requests per route: {requests}")
    for name, samples in (("GET /health (no key)", plain), ("same + key/policy/meter", keyed)):
        p50, p95 = statistics.median(samples), _percentile(samples, 0.95)
        print(f"  {name:28s} p50 {p50:6.3f} ms   p95 {p95:6.3f} ms")
    overhead = statistics.median(keyed) - statistics.median(plain)
    print(f"  authentication + authorisation + metering at p50: {overhead:.3f} ms (target 0.3)")
    print("  authenticate() p50: " + ", ".join(f"{k} {v:.3f} ms" for k, v in timings.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.database_url))
