"""Dashboard and portal benchmark against a real `gateway serve` process, run on demand.

    .venv/bin/python tests/bench/bench_dashboard.py [--jobs 100000] [--quarantined 50000]
        [--repeat 30] [--no-browser]

1. starts `gateway serve` on a brand-new SQLite database (tests/e2e/gateway_process.py) and seeds
   its sandbox client with --jobs finished jobs and --quarantined open quarantine entries (with
   their staged raw records), bulk-inserted through the ORM models in one transaction;
2. (a) the GraphQL operations the dashboard runs (graphql/operations/, as the portal sends them):
   the first page of jobs and of the quarantine, a deep page reached by following endCursor, and a
   filter — each --repeat times: wall-clock p50/p95 at the client and the server process's CPU
   time per request (utime+stime from /proc, the number that is not skewed by a busy machine);
3. (b) in Debian's headless Chromium through Playwright, a cold browser context per load: time to
   first render of each dashboard panel (the panel's `aria-busy` turning false, from navigation
   start) and each portal page's load (loadEventEnd), with the bytes transferred per page when the
   browser offers br (its default), gzip only, and identity only.

Prints a report and writes tests/bench/results/dashboard-<timestamp>.json. Not part of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from app.db.models import IngestJob, StagedRecord  # noqa: E402
from app.ids import new_id  # noqa: E402
from app.quarantine.models import QuarantinedRecord, QuarantineStage, QuarantineStatus  # noqa: E402
from tests.e2e.gateway_process import Server, gateway_process  # noqa: E402
from tests.helpers import shopify_product  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
OPERATIONS = {path.stem: path.read_text() for path in (ROOT / "graphql" / "operations").glob("*")}
PAGE_SIZE = 25  # portal/src/dashboard.js PAGE_SIZE
WALK_PAGE = 500  # app/pagination.py MAX_PAGE_SIZE: the walk to a deep cursor
QUARANTINED_PER_JOB = 10
FINAL = ["SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED"]
PORTAL_PAGES = [
    "/portal/",
    "/portal/quickstart.html",
    "/portal/guide.html",
    "/portal/errors.html",
    "/portal/mappings.html",
    "/portal/reference-graphql.html",
    "/portal/reference-entities.html",
    "/portal/reference-rest.html",
    "/portal/data-handling.html",
    "/portal/dashboard.html",
    "/graphql",
]
PANELS = ["overview", "jobs", "quarantine", "health", "usage", "sandbox"]
# None: Chromium's own header (over plain http it offers gzip and deflate, not br).
ENCODINGS = {"default": None, "br": "br, gzip", "gzip": "gzip", "identity": "identity"}
SEED_BATCH = 5000


# --- seeding ---


def _job_rows(client_id: str, jobs: int, quarantining: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for number in range(jobs):
        quarantined = QUARANTINED_PER_JOB if number < quarantining else 0
        status = "PARTIALLY_SUCCEEDED" if quarantined else FINAL[2 if number % 7 == 0 else 0]
        created = now - timedelta(seconds=jobs - number)
        rows.append(
            {
                "id": new_id("job"),
                "client_id": client_id,
                "livemode": False,
                "api_key_id": None,
                "entity": "product",
                "door": "graphql",
                "source_platform": "shopify",
                "status": status,
                "idempotency_key": None,
                "request_hash": f"{number:064x}",
                "received": 20,
                "valid": 20 - quarantined,
                "quarantined": quarantined,
                "written": 20 - quarantined if status != "FAILED" else 0,
                "processed": 20,
                "attempts": 1,
                "failure_reason": "bench: a failed job" if status == "FAILED" else None,
                "created_at": created,
                "started_at": created,
                "finished_at": created + timedelta(milliseconds=300),
            }
        )
    return rows


def _quarantine_rows(
    client_id: str, jobs: list[dict[str, Any]], quarantined: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    entries, staged = [], []
    positions = ((job, position) for job in jobs for position in range(QUARANTINED_PER_JOB))
    for number, (job, position) in enumerate(itertools.islice(positions, quarantined)):
        product = shopify_product(number, status="sold-out")
        staged.append(
            {
                "job_id": job["id"],
                "position": position,
                "client_id": client_id,
                "payload": orjson.dumps(product).decode(),
                "quarantine_id": None,
            }
        )
        entries.append(
            {
                "id": new_id("qr"),
                "client_id": client_id,
                "livemode": False,
                "job_id": job["id"],
                "position": position,
                "stage": QuarantineStage.INGEST.value,
                "entity": "product",
                "source_platform": "shopify",
                "raw_platform": None,
                "external_id": product["external_id"],
                "status": QuarantineStatus.OPEN.value,
                "mapped": product,
                "patches": None,
                "errors": [
                    {
                        "code": "invalid_enum",
                        "message": "status must be one of active, draft, archived.",
                        "path": "status",
                        "rule_id": None,
                        "value": "sold-out",
                    }
                ],
                "rule_ids": "",
                "attempts": 1,
                "created_at": job["created_at"],
                "updated_at": job["created_at"],
            }
        )
    return entries, staged


async def seed(database_url: str, client_id: str, jobs: int, quarantined: int) -> float:
    """Bulk inserts through the models; returns the seconds it took."""
    started = time.perf_counter()
    quarantining = -(-quarantined // QUARANTINED_PER_JOB)
    job_rows = _job_rows(client_id, jobs, quarantining)
    entries, staged = _quarantine_rows(client_id, job_rows[:quarantining], quarantined)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            for model, rows in ((IngestJob, job_rows), (StagedRecord, staged)):
                for start in range(0, len(rows), SEED_BATCH):
                    await connection.execute(insert(model), rows[start : start + SEED_BATCH])
            for start in range(0, len(entries), SEED_BATCH):
                await connection.execute(
                    insert(QuarantinedRecord), entries[start : start + SEED_BATCH]
                )
    finally:
        await engine.dispose()
    return time.perf_counter() - started


# --- (a) the API pages ---


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Api:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.client = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.sandbox_test_key}"},
            timeout=60.0,
        )

    def run(self, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(
            "/graphql", json={"query": OPERATIONS[operation], "variables": variables}
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"{operation}: {body['errors']}")
        data: dict[str, Any] = body["data"]
        return data

    def deep_cursor(self, operation: str, field: str, depth: int, **variables: Any) -> str:
        """Follow endCursor in pages of WALK_PAGE until `depth` rows are behind."""
        after, walked = None, 0
        while walked < depth:
            size = min(WALK_PAGE, depth - walked)
            page = self.run(operation, {**variables, "first": size, "after": after})[field]
            after, walked = page["pageInfo"]["endCursor"], walked + size
            if not page["pageInfo"]["hasNextPage"]:
                break
        assert after, f"{operation}: no cursor at depth {depth}"
        return after

    def measure(self, operation: str, variables: dict[str, Any], repeat: int) -> dict[str, Any]:
        field = {"list_jobs": "jobs", "quarantine": "quarantine"}[operation]
        self.run(operation, variables)  # warm: the first call pays for imports and caches
        walls = []
        cpu_before = cpu_seconds(self.server.process.pid)
        for _ in range(repeat):
            started = time.perf_counter()
            rows = len(self.run(operation, variables)[field]["nodes"])
            walls.append(time.perf_counter() - started)
        cpu = cpu_seconds(self.server.process.pid) - cpu_before
        return {
            "rows": rows,
            "wall_p50_ms": round(percentile(walls, 0.5) * 1000, 1),
            "wall_p95_ms": round(percentile(walls, 0.95) * 1000, 1),
            "server_cpu_ms_per_request": round(cpu / repeat * 1000, 1),
        }


def api_pages(server: Server, jobs: int, quarantined: int, repeat: int) -> dict[str, Any]:
    api = Api(server)
    first = {"first": PAGE_SIZE, "after": None}
    jobs_deep = api.deep_cursor("list_jobs", "jobs", jobs // 2)
    quarantine_deep = api.deep_cursor("quarantine", "quarantine", quarantined // 2)
    some_job = api.run("quarantine", {"first": 1})["quarantine"]["nodes"][0]["jobId"]
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "jobs: first page": ("list_jobs", first),
        f"jobs: page at depth {jobs // 2} (cursor)": ("list_jobs", {**first, "after": jobs_deep}),
        "jobs: filter status FAILED": ("list_jobs", {**first, "status": "FAILED"}),
        "jobs: filter status FAILED, deep (cursor)": (
            "list_jobs",
            {
                **first,
                "status": "FAILED",
                "after": api.deep_cursor("list_jobs", "jobs", jobs // 14, status="FAILED"),
            },
        ),
        "quarantine: first page": ("quarantine", first),
        f"quarantine: page at depth {quarantined // 2} (cursor)": (
            "quarantine",
            {**first, "after": quarantine_deep},
        ),
        "quarantine: filter status OPEN": ("quarantine", {**first, "filter": {"status": "OPEN"}}),
        "quarantine: filter by job": ("quarantine", {**first, "filter": {"jobId": some_job}}),
        "quarantine: filter status DISCARDED (no match)": (
            "quarantine",
            {**first, "filter": {"status": "DISCARDED"}},
        ),
    }
    return {
        name: api.measure(operation, variables, repeat)
        for name, (operation, variables) in cases.items()
    }


# --- (b) the browser ---

PANEL_TIMER = """
(() => {
  const record = () => {
    const panel = document.getElementById('panel');
    if (panel && panel.getAttribute('aria-busy') === 'false' && panel.querySelector('h2')) {
      window.__panelRendered ??= performance.now();
    }
  };
  const watched = { subtree: true, childList: true, attributes: true };
  new MutationObserver(record).observe(document, watched);
})();
"""
LOADED = """() => {
  const [nav] = performance.getEntriesByType('navigation');
  const resources = performance.getEntriesByType('resource');
  return {
    load_ms: nav.loadEventEnd,
    transferred_bytes: [nav, ...resources].reduce((sum, entry) => sum + entry.transferSize, 0),
    body_bytes: [nav, ...resources].reduce((sum, entry) => sum + entry.encodedBodySize, 0),
    decoded_bytes: [nav, ...resources].reduce((sum, entry) => sum + entry.decodedBodySize, 0),
    requests: 1 + resources.length,
  };
}"""


def _timed_loads(
    browser: Any, server: Server, accept_encoding: str | None, prepare: Callable[[Any], None] | None
) -> Any:
    headers = {"Accept-Encoding": accept_encoding} if accept_encoding else {}
    context = browser.new_context(
        extra_http_headers=headers, viewport={"width": 1280, "height": 900}
    )
    context.route(
        "**/*",
        lambda route, request: (
            route.continue_() if request.url.startswith(server.url) else route.abort()
        ),
    )
    if prepare:
        prepare(context)
    return context


def portal_loads(browser: Any, server: Server) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path in PORTAL_PAGES:
        found[path] = {}
        for name, header in ENCODINGS.items():
            context = _timed_loads(browser, server, header, None)
            page = context.new_page()
            encodings: list[str] = []
            page.on(
                "response",
                lambda response, seen=encodings: seen.append(
                    response.headers.get("content-encoding", "identity")
                ),
            )
            page.goto(f"{server.url}{path}", wait_until="load")
            loaded = page.evaluate(LOADED)
            loaded["content_encodings"] = sorted(set(encodings))
            found[path][name] = loaded
            context.close()
    return found


def panel_renders(browser: Any, server: Server) -> dict[str, Any]:
    key = server.sandbox_test_key

    def signed_in(context: Any) -> None:
        context.add_init_script(
            f"window.localStorage.setItem('gateway.apiKey', {orjson.dumps(key).decode()});"
        )
        context.add_init_script(PANEL_TIMER)

    found = {}
    for panel in PANELS:
        context = _timed_loads(browser, server, None, signed_in)
        page = context.new_page()
        page.goto(f"{server.url}/portal/dashboard.html#{panel}")
        page.wait_for_function("() => window.__panelRendered !== undefined", timeout=60_000)
        alerts = page.locator("#panel [role=alert]").count()
        found[panel] = {
            "first_render_ms": round(page.evaluate("() => window.__panelRendered"), 1),
            "errors_shown": alerts,
        }
        context.close()
    return found


def browser_numbers(server: Server) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
            ],
        )
        try:
            return {
                "panels": panel_renders(browser, server),
                "pages": portal_loads(browser, server),
            }
        finally:
            browser.close()


# --- the run ---


def main(arguments: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-dashboard-") as workdir,
        gateway_process(Path(workdir), GATEWAY_LOG_LEVEL="WARNING") as server,
    ):
        viewer = Api(server).run("viewer", {})["viewer"]
        seconds = asyncio.run(
            seed(server.database_url, viewer["client"]["id"], arguments.jobs, arguments.quarantined)
        )
        report: dict[str, Any] = {
            "seeded": {
                "jobs": arguments.jobs,
                "quarantined": arguments.quarantined,
                "seconds": round(seconds, 1),
            },
            "load_average": os.getloadavg(),
            "api": api_pages(server, arguments.jobs, arguments.quarantined, arguments.repeat),
        }
        if arguments.browser:
            report["browser"] = browser_numbers(server)
        report["load_average_after"] = os.getloadavg()
        return report


def _print(report: dict[str, Any]) -> None:
    seeded = report["seeded"]
    jobs, quarantined, seconds = seeded["jobs"], seeded["quarantined"], seeded["seconds"]
    print(f"seeded {jobs} jobs, {quarantined} quarantined in {seconds} s")
    print(f"load average {report['load_average']}")
    print(f"{'GraphQL page':55} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'server CPU ms':>14}")
    for name, row in report["api"].items():
        print(
            f"{name:55} {row['rows']:>5} {row['wall_p50_ms']:>8} {row['wall_p95_ms']:>8} "
            f"{row['server_cpu_ms_per_request']:>14}"
        )
    if "browser" not in report:
        return
    print(f"\n{'dashboard panel':15} {'first render ms':>16}")
    for panel, row in report["browser"]["panels"].items():
        print(f"{panel:15} {row['first_render_ms']:>16}  errors shown: {row['errors_shown']}")
    print(
        f"\n{'portal page':34} "
        + " ".join(f"{name + ' load ms':>17} {name + ' bytes':>16}" for name in ENCODINGS)
    )
    for path, rows in report["browser"]["pages"].items():
        cells = " ".join(
            f"{rows[name]['load_ms']:>17.0f} {rows[name]['body_bytes']:>16,}" for name in ENCODINGS
        )
        print(f"{path:34} {cells}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--quarantined", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=30, help="calls per measured page")
    parser.add_argument("--no-browser", dest="browser", action="store_false")
    found = main(parser.parse_args())
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"dashboard-{stamp}.json").write_bytes(
        orjson.dumps(found, option=orjson.OPT_INDENT_2)
    )
    _print(found)
