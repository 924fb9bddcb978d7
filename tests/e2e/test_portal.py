"""The developer portal in a real headless Chromium against a real gateway process.

Every test opens pages through `Browsing`: a request to any host but the gateway's loopback address
fails the test, each page passes axe-core with no serious or critical violation, and a screenshot of
each page is kept in tests/e2e/artifacts/.
"""

import gzip
import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from app.events.signing import new_secret, signed_headers
from app.settings import ROOT_DIR, Settings
from graphql import build_schema, parse, validate
from tests.e2e.gateway_process import Server, gateway_process
from tests.e2e.portal_browser import (
    Browsing,
    axe_violations,
    browsing,
    check_page,
    gateway_cli,
    graphql,
    require_chromium,
    wait_for,
)

DIST = ROOT_DIR / "portal" / "dist"
PRODUCT_EXAMPLE = json.loads((ROOT_DIR / "contracts" / "product.schema.json").read_text())[
    "examples"
][0]
PAGES = [
    "index.html",
    "quickstart.html",
    "guide.html",
    "errors.html",
    "mappings.html",
    "reference-graphql.html",
    "reference-entities.html",
    "reference-rest.html",
    "data-handling.html",
    "dashboard.html",
]
DASHBOARD_PANELS = ["overview", "jobs", "quarantine", "health", "usage", "sandbox"]
FINAL = {"SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED"}
OPERATIONS = {path.stem: path.read_text() for path in (ROOT_DIR / "graphql/operations").glob("*")}


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    if not (DIST / "portal-manifest.json").is_file():
        pytest.fail("portal/dist is not built: cd portal && npm ci && npm run build")
    with gateway_process(tmp_path_factory.mktemp("portal-serve")) as server:
        yield server


@pytest.fixture(scope="module")
def web(portal: Server) -> Iterator[Browsing]:
    with browsing() as session:
        yield session


@pytest.fixture
def page(web: Browsing) -> Iterator[Page]:
    tab = web.new_page()
    try:
        yield tab
    finally:
        if tab.url.startswith("http"):  # the key and client a test left must not reach the next
            tab.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        tab.close()
        web.assert_stayed_local()


def enter_key(page: Page, key: str) -> None:
    page.fill("#api-key", key)
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#api-key-status")).to_contain_text("Key set")


def push_products(portal: Server, records: list[dict[str, Any]], key: str) -> dict[str, Any]:
    data = graphql(
        portal,
        OPERATIONS["push_products"],
        {"input": {"records": records, "idempotencyKey": key}},
    )
    payload = data["ingestProducts"]
    assert payload["errors"] == [], payload
    return wait_for_job(portal, payload["job"]["id"])


def wait_for_job(portal: Server, job_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        job = graphql(portal, OPERATIONS["watch_job"], {"id": job_id})["job"]
        return job if job["status"] in FINAL else None

    result: dict[str, Any] = wait_for(finished, f"job {job_id} to finish")
    return result


def product(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "source_platform": "custom",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "name": f"Product {external_id}",
        **fields,
    }


def open_quarantined(page: Page, external_id: str) -> None:
    """Click a quarantined record's row and wait until its detail is the one shown."""
    button = page.locator("#panel tr", has_text=external_id).locator("[data-entry]")
    entry_id = button.inner_text()
    button.click()
    expect(page.locator("#quarantine-detail h3")).to_contain_text(entry_id)


def panel_loaded(page: Page) -> None:
    expect(page.locator("#panel")).to_have_attribute("aria-busy", "false")


# --- every page ---


@pytest.mark.parametrize("name", PAGES)
def test_every_portal_page_is_served_locally_and_passes_axe(
    portal: Server, page: Page, name: str
) -> None:
    response = page.goto(f"{portal.url}/portal/{'' if name == 'index.html' else name}")
    assert response is not None
    # Precompressed by the build, decoded by Chromium (which offers gzip and br to localhost).
    assert response.headers.get("content-encoding") in {"br", "gzip"}, response.headers
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_be_visible()
    expect(page.get_by_role("navigation", name="Portal")).to_be_visible()
    expect(page.locator('nav[aria-label="Portal"] a[aria-current="page"]')).to_have_count(1)
    duplicated = page.evaluate(
        """() => { const seen = new Set(), twice = new Set();
        document.querySelectorAll('[id]').forEach((n) => (seen.has(n.id) ? twice : seen).add(n.id));
        return [...twice]; }"""
    )
    assert duplicated == [], f"ids used more than once: {duplicated}"
    check_page(page, f"page-{name.removesuffix('.html')}")


@pytest.mark.parametrize("panel", DASHBOARD_PANELS)
def test_every_dashboard_panel_loads_with_the_key_and_passes_axe(
    portal: Server, page: Page, panel: str
) -> None:
    push_products(portal, [product(f"panel-{panel}")], f"panel-{panel}")
    page.goto(f"{portal.url}/portal/dashboard.html#{panel}")
    enter_key(page, portal.sandbox_test_key)
    panel_loaded(page)
    expect(page.locator("#panel [role=alert]")).to_have_count(0)
    expect(page.locator("#panel h2")).to_be_visible()
    check_page(page, f"dashboard-{panel}")


def operator_key(portal: Server) -> str:
    secret: str = gateway_cli(portal, "keys", "create", "--operator", "--mode", "test")["secret"]
    return secret


def test_an_operator_key_names_the_client_it_looks_at(portal: Server, page: Page) -> None:
    operator = operator_key(portal)
    client = graphql(portal, OPERATIONS["viewer"])["viewer"]["client"]

    page.goto(f"{portal.url}/portal/dashboard.html#overview")
    page.fill("#client-id", "")
    enter_key(page, operator)
    panel_loaded(page)
    expect(page.locator("#panel [data-pick-client]")).to_contain_text("operator key")

    page.fill("#client-id", client["id"])
    enter_key(page, operator)
    panel_loaded(page)
    expect(page.locator("#panel")).to_contain_text(client["name"])
    expect(page.locator("#panel")).to_contain_text(client["id"])
    expect(page.locator("[data-acting]")).to_contain_text(client["id"])
    check_page(page, "dashboard-operator")
    page.get_by_role("button", name="Forget").click()


def test_an_operator_lists_clients_picks_one_and_sees_its_jobs(portal: Server, page: Page) -> None:
    zephyr = gateway_cli(portal, "clients", "create", "Zephyr Outfitters")
    zephyr_key = gateway_cli(portal, "keys", "create", "--client", zephyr["id"], "--mode", "test")
    pushed = graphql(
        portal,
        OPERATIONS["push_products"],
        {"input": {"records": [product("zephyr-1")], "idempotencyKey": "zephyr-1"}},
        key=zephyr_key["secret"],
    )["ingestProducts"]["job"]["id"]
    sandbox_job = push_products(portal, [product("not-zephyr")], "not-zephyr")["id"]
    operator = operator_key(portal)

    page.goto(f"{portal.url}/portal/dashboard.html")
    page.fill("#client-id", "")
    enter_key(page, operator)
    panel_loaded(page)  # an operator without a client starts at the client list
    expect(page.locator("#panel h2")).to_have_text("Clients")
    row = page.locator("#panel tbody tr", has_text="Zephyr Outfitters")
    expect(row).to_contain_text(zephyr["id"])
    expect(row).not_to_contain_text("—")  # it has a last job
    sandbox_client = graphql(portal, OPERATIONS["viewer"])["viewer"]["client"]
    expect(page.locator("#panel tbody")).to_contain_text(sandbox_client["id"])
    check_page(page, "dashboard-operator-clients")

    page.get_by_label("Name or id starts with").fill("zeph")
    page.get_by_role("button", name="Search").click()
    panel_loaded(page)
    expect(page.locator("#panel tbody tr")).to_have_count(1)

    page.get_by_role("button", name="Act on Zephyr Outfitters").click()
    page.wait_for_url("**/dashboard.html#overview")
    panel_loaded(page)
    expect(page.locator("[data-acting]")).to_contain_text("Zephyr Outfitters")
    expect(page.locator("#client-id")).to_have_value(zephyr["id"])
    expect(page.locator("#panel")).to_contain_text(zephyr["id"])

    page.get_by_role("link", name="Jobs").click()
    expect(page.locator("#panel h2")).to_have_text("Jobs")  # the new panel, not the last one
    panel_loaded(page)
    jobs = page.locator("#panel tbody tr [data-job]").all_inner_texts()
    assert jobs == [pushed], jobs
    assert sandbox_job not in jobs

    page.get_by_role("link", name="Usage of all clients").click()
    expect(page.locator("#panel h2")).to_have_text("Usage of all clients")
    panel_loaded(page)

    def metered() -> bool:  # counts reach the database every few seconds
        page.get_by_role("button", name="Show").click()
        panel_loaded(page)
        return page.locator("#panel tr", has_text=zephyr["id"]).count() > 0

    wait_for(metered, "Zephyr's calls in the usage of all clients")
    expect(page.locator("#panel [role=alert]")).to_have_count(0)
    check_page(page, "dashboard-operator-usage")
    page.get_by_role("button", name="Forget").click()


REPORT_SYNC = """
mutation Report($run: ReportSyncRunInput!, $health: ReportConnectionHealthInput!) {
  reportSyncRun(input: $run) { errors { code message } }
  reportConnectionHealth(input: $health) { errors { code message } }
}"""


def test_sync_health_shows_what_the_partner_reported(portal: Server, page: Page) -> None:
    reported = graphql(
        portal,
        REPORT_SYNC,
        {
            "run": {
                "platform": "SHOPIFY",
                "entity": "PRODUCT",
                "startedAt": "2026-11-26T00:00:00Z",
                "finishedAt": "2026-11-26T00:05:00Z",
                "recordsSent": 4321,
                "errors": [{"code": "shopify_throttled", "message": "429 from Shopify"}],
            },
            "health": {"platform": "SHOPIFY", "status": "STALE", "detail": "token expires soon"},
        },
    )
    assert reported["reportSyncRun"]["errors"] == [], reported
    assert reported["reportConnectionHealth"]["errors"] == [], reported

    page.goto(f"{portal.url}/portal/dashboard.html#health")
    enter_key(page, portal.sandbox_test_key)
    panel_loaded(page)
    shopify = page.locator("#panel tr", has_text="SHOPIFY")
    expect(shopify).to_contain_text("STALE")
    expect(shopify).to_contain_text("token expires soon")
    expect(shopify).to_contain_text("4321 sent, 1 errors")
    check_page(page, "dashboard-health-reported")


def test_the_dashboard_asks_for_a_key_before_calling_the_api(portal: Server, page: Page) -> None:
    page.goto(f"{portal.url}/portal/dashboard.html")
    page.evaluate("() => window.localStorage.clear()")
    page.reload()
    panel_loaded(page)
    expect(page.locator("#panel")).to_contain_text("Enter your API key")


# --- the quickstart path ---


def test_quickstart_from_a_key_to_the_record_in_the_sandbox_view(
    portal: Server, page: Page
) -> None:
    page.goto(f"{portal.url}/portal/quickstart.html")
    enter_key(page, portal.sandbox_test_key)

    push_step = page.locator('.examples[data-step="push"]')
    push_step.get_by_role("tab", name="Python").click()
    expect(page.locator("#push-python")).to_be_visible()
    expect(page.locator("#push-graphql")).to_be_hidden()
    push_step.get_by_role("tab", name="GraphQL").click()
    expect(page.locator("#push-graphql")).to_be_visible()

    page.get_by_role("button", name="Push this record now").click()
    expect(page.locator("#push-result")).to_contain_text("Accepted: job job_")
    expect(page.locator("#job-result")).to_have_attribute("data-status", "SUCCEEDED")
    expect(page.locator("#job-result")).to_contain_text("written 1")
    check_page(page, "quickstart-pushed")

    page.locator("#sandbox-link").click()
    page.wait_for_url("**/dashboard.html#sandbox")

    # The AMS sync runs after the job: reload the view until the record has landed.
    def landed() -> bool:
        page.reload()
        panel_loaded(page)
        return page.locator("#panel td", has_text=PRODUCT_EXAMPLE["name"]).count() > 0

    wait_for(landed, "the pushed product in the sandbox base view")
    row = page.locator("#panel tr", has_text=PRODUCT_EXAMPLE["name"])
    expect(row).to_contain_text(PRODUCT_EXAMPLE["external_id"])
    check_page(page, "quickstart-sandbox-view")


def test_the_generated_python_and_curl_examples_push_a_record(portal: Server) -> None:
    """The copyable examples on the quickstart page run as printed (minus the key)."""
    html = (DIST / "quickstart.html").read_text()

    def block(block_id: str) -> str:
        found = re.search(
            rf'<pre[^>]*id="{block_id}"[^>]*><code>(.*?)</code></pre>', html, re.DOTALL
        )
        assert found, f"{block_id} is missing from quickstart.html"
        return unescape(found.group(1))

    env = {
        "GATEWAY_URL": portal.url,
        "GATEWAY_KEY": portal.sandbox_test_key,
        "PATH": "/usr/bin:/bin",
    }
    python = subprocess.run(
        [sys.executable, "-c", block("push-python")], env=env, capture_output=True, timeout=60
    )
    assert python.returncode == 0, python.stderr.decode()
    answer = json.loads(python.stdout)
    job_id = answer["data"]["ingestProducts"]["job"]["id"]
    assert job_id.startswith("job_"), answer

    curl = subprocess.run(
        ["bash", "-c", block("push-curl")], env=env, capture_output=True, timeout=60
    )
    assert curl.returncode == 0, curl.stderr.decode()
    replay = json.loads(curl.stdout)["data"]["ingestProducts"]
    # The same idempotency key and body: the curl call gets the Python call's job back.
    assert replay["job"]["id"] == job_id and replay["replayed"] is True, replay

    # The GraphQL operation and variables blocks, pasted as they are, do the same push.
    pasted = graphql(portal, block("push-graphql"), json.loads(block("push-variables")))
    assert pasted["ingestProducts"]["job"]["id"] == job_id, pasted

    watch = subprocess.run(
        [sys.executable, "-c", block("watch-python"), job_id],
        env=env,
        capture_output=True,
        timeout=90,
    )
    assert watch.returncode == 0, watch.stderr.decode()
    assert "SUCCEEDED" in watch.stdout.decode(), watch.stdout.decode()


def copied(page: Page, block_id: str) -> str:
    """What a person gets from a code block's Copy button (the clipboard, or the selection the
    page makes when the clipboard is refused)."""
    page.locator(f'button[data-copy="{block_id}"]').click()
    button = page.locator(f'button[data-copy="{block_id}"]')
    expect(button).not_to_have_text("Copy")
    if button.inner_text() == "Copied":
        text: str = page.evaluate("() => navigator.clipboard.readText()")
    else:
        text = page.evaluate("() => window.getSelection().toString()")
    assert text.strip(), f"copying {block_id} gave nothing"
    return text


def in_a_shell(script: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """A newcomer's terminal: bash with only the system's tools on PATH, no GATEWAY_* set."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_newcomer_reaches_a_record_in_the_sandbox_view_using_only_the_quickstart(
    web: Browsing, tmp_path: Path, record_property: Any
) -> None:
    """Everything typed or run comes from the page's own text: the shell setup, the curl push and
    the Python watcher are copied off the page and run as they are, against a brand-new gateway.
    The one edit made is the one the page asks for: the placeholder key replaced by the real one.
    What a person would do is counted in `steps` (reported by the test; see the lead's notes)."""
    started = time.monotonic()
    steps: list[str] = []
    with gateway_process(tmp_path) as fresh:
        steps.append("run ./gateway.sh serve and keep the test key it prints")
        web.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=fresh.url)
        page = web.new_page()
        try:
            page.goto(f"{fresh.url}/portal/")
            page.get_by_role("navigation", name="Portal").get_by_role(
                "link", name="Quickstart"
            ).click()
            page.wait_for_url("**/quickstart.html")
            steps.append("open the portal and its Quickstart")
            enter_key(page, fresh.sandbox_test_key)
            steps.append("paste the key into the page once")

            shell = page.locator("#key").locator("xpath=..").locator("pre", has_text="export")
            setup = shell.inner_text()
            assert "gw_test_…" in setup, setup
            setup = setup.replace("gw_test_…", fresh.sandbox_test_key)
            steps.append("copy the two export lines, putting the key in place of gw_test_…")

            push_step = page.locator('.examples[data-step="push"]')
            push_step.get_by_role("tab", name="curl").click()
            push = copied(page, "push-curl")
            pushed = in_a_shell(f"{setup}\n{push}", tmp_path)
            assert pushed.returncode == 0, pushed.stderr
            answer = json.loads(pushed.stdout)["data"]["ingestProducts"]
            assert answer["errors"] == [], answer
            job_id = answer["job"]["id"]
            steps.append("choose curl, copy the push, run it in the shell")

            watch_step = page.locator('.examples[data-step="watch"]')
            watch_step.get_by_role("tab", name="Python").click()
            (tmp_path / "watch.py").write_text(copied(page, "watch-python"))
            watched = in_a_shell(f"{setup}\npython3 watch.py {job_id}", tmp_path)
            assert watched.returncode == 0, watched.stderr
            statuses = [line.split(" ", 1)[0] for line in watched.stdout.splitlines()]
            assert [status for status in statuses if status in FINAL] == ["SUCCEEDED"], statuses
            steps.append("copy the Python watcher into watch.py, run it with the job id")

            pushed_body = json.loads(push.split("<<'JSON'\n", 1)[1].rsplit("\nJSON", 1)[0])
            record = pushed_body["variables"]["input"]["records"][0]
            page.get_by_role("link", name="sandbox base view").click()
            page.wait_for_url("**/dashboard.html#sandbox")
            steps.append("follow the link to the sandbox base view")

            def landed() -> bool:  # the AMS sync runs after the job: the page is reloaded
                page.reload()
                panel_loaded(page)
                return page.locator("#panel td", has_text=record["name"]).count() > 0

            wait_for(landed, "the pushed product in the sandbox base view")
            expect(page.locator("#panel tr", has_text=record["name"])).to_contain_text(
                record["external_id"]
            )
            check_page(page, "quickstart-newcomer-sandbox-view")
        finally:
            page.close()
    seconds = time.monotonic() - started
    record_property("quickstart_seconds", round(seconds, 1))
    record_property("quickstart_steps", len(steps))
    print(f"quickstart: {len(steps)} steps in {seconds:.1f} s: " + "; ".join(steps))
    web.assert_stayed_local()


# --- quarantine ---


def test_quarantine_fix_and_replay_and_discard_from_the_dashboard(
    portal: Server, page: Page
) -> None:
    job = push_products(
        portal,
        [
            product("q-fix", price={"amount": 12.5, "currency": "EUR"}),
            product("q-replay", status="sold-out"),
            product("q-discard", status="gone"),
        ],
        "quarantine-flow",
    )
    assert job["counters"]["quarantined"] == 3, job

    page.goto(f"{portal.url}/portal/dashboard.html#quarantine")
    enter_key(page, portal.sandbox_test_key)
    panel_loaded(page)
    page.get_by_label("Job").fill(job["id"])
    page.get_by_role("button", name="Filter").click()
    panel_loaded(page)
    expect(page.locator("#panel tbody tr")).to_have_count(3)

    # Inspect: raw vs mapped vs errors, then fix the one field.
    open_quarantined(page, "q-fix")
    expect(page.locator("[data-raw]")).to_contain_text("12.5")
    expect(page.locator("#quarantine-detail")).to_contain_text("invalid_type")
    check_page(page, "quarantine-inspect")
    page.get_by_label("Field").fill("price.amount")
    page.get_by_label("New value (JSON, or plain text)").fill('"12.50"')
    page.get_by_role("button", name="Fix and validate").click()
    expect(page.locator("[data-outcome]")).to_contain_text("Fix applied: RESOLVED")
    check_page(page, "quarantine-fixed")
    stored = graphql(
        portal,
        OPERATIONS["read_records"],
        {"entity": "PRODUCT", "externalIds": ["q-fix"]},
    )["records"]["nodes"]
    assert stored and stored[0]["data"]["price"] == {"amount": "12.50", "currency": "EUR"}, stored

    # Replay: the record is validated again in a new job (it still fails: same status value).
    open_quarantined(page, "q-replay")
    page.get_by_role("button", name="Replay").click()
    expect(page.locator("[data-outcome]")).to_contain_text("Replaying 1 record(s) in job job_")
    replay_job = page.locator("[data-outcome]").inner_text().rsplit(" ", 1)[-1].rstrip(".")
    assert wait_for_job(portal, replay_job)["counters"]["received"] == 1

    # Discard: kept as DISCARDED.
    open_quarantined(page, "q-discard")
    page.get_by_role("button", name="Discard").click()
    expect(page.locator("[data-outcome]")).to_contain_text("Discarded 1 record(s)")
    expect(page.locator("#quarantine-detail h3")).to_contain_text("DISCARDED")

    statuses = {
        node["externalId"]: node["status"]
        for node in graphql(portal, OPERATIONS["quarantine"], {"filter": {"jobId": job["id"]}})[
            "quarantine"
        ]["nodes"]
    }
    assert statuses == {"q-fix": "RESOLVED", "q-replay": "OPEN", "q-discard": "DISCARDED"}, statuses


# --- jobs pagination ---


def test_the_jobs_panel_pages_on_the_server(portal: Server, page: Page) -> None:
    for number in range(26):
        graphql(
            portal,
            OPERATIONS["push_products"],
            {"input": {"records": [product(f"page-{number}")], "idempotencyKey": f"page-{number}"}},
        )
    page.goto(f"{portal.url}/portal/dashboard.html#jobs")
    enter_key(page, portal.sandbox_test_key)
    panel_loaded(page)
    first_page = page.locator("#panel tbody tr [data-job]").all_inner_texts()
    assert len(first_page) == 25, first_page
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#panel .pager span")).to_have_text("Page 2")
    second_page = page.locator("#panel tbody tr [data-job]").all_inner_texts()
    assert second_page and not set(second_page) & set(first_page), second_page
    page.get_by_role("button", name="Previous").click()
    expect(page.locator("#panel .pager span")).to_have_text("Page 1")
    assert page.locator("#panel tbody tr [data-job]").all_inner_texts() == first_page

    page.locator("#panel [data-job]").first.click()
    expect(page.locator("#job-detail h3")).to_contain_text("Job")
    check_page(page, "dashboard-job-detail")


# --- GraphiQL ---


def test_graphiql_runs_an_operation_with_the_key_entered_once(portal: Server, page: Page) -> None:
    page.goto(f"{portal.url}/graphql")
    page.evaluate("() => window.localStorage.clear()")  # the key is entered here, once
    page.reload()
    expect(page.locator(".graphiql-tab")).to_have_count(len(OPERATIONS))
    check_page(page, "graphiql")
    page.fill("#sg-api-key", portal.sandbox_test_key)
    # Applying the key makes GraphiQL load the schema again, with the key.
    with page.expect_response(
        lambda response: (
            response.request.method == "POST"
            and "IntrospectionQuery" in (response.request.post_data or "")
            and response.request.headers.get("authorization") == f"Bearer {portal.sandbox_test_key}"
        )
    ):
        page.press("#sg-api-key", "Enter")
    expect(page.locator(".graphiql-tab").first).to_contain_text("PushProducts")
    with page.expect_response(
        lambda response: (
            response.request.method == "POST"
            and "PushProducts" in (response.request.post_data or "")
        )
    ) as answer:
        page.locator(".graphiql-execute-button").click()
    pushed = answer.value.json()["data"]["ingestProducts"]
    assert pushed["errors"] == [] and pushed["job"]["id"].startswith("job_"), pushed
    result = page.locator(".result-window")
    expect(result).to_contain_text('"ingestProducts"')
    expect(result).to_contain_text(pushed["job"]["id"])
    check_page(page, "graphiql-ran")

    # A reload keeps the stored tabs and adds none (the key, too, is still there).
    page.reload()
    expect(page.locator(".graphiql-tab")).to_have_count(len(OPERATIONS))
    expect(page.locator("#sg-key-status")).to_have_text("Key set")


def test_the_guards_catch_a_remote_request_and_an_inaccessible_page(web: Browsing) -> None:
    """The checks every page passes can fail: a remote image is caught (and never fetched)."""
    tab = web.new_page()
    try:
        tab.set_content(
            '<html lang="en"><title>t</title><main><img src="https://cdn.example.com/x.png">'
            "</main></html>"
        )
        tab.wait_for_load_state("networkidle")
        assert web.off_localhost == ["https://cdn.example.com/x.png"], web.off_localhost
        assert "image-alt" in {violation["id"] for violation in axe_violations(tab)}
    finally:
        web.off_localhost.clear()
        tab.close()


# --- the build ---


def test_the_built_portal_matches_the_committed_contracts() -> None:
    manifest = json.loads((DIST / "portal-manifest.json").read_text())
    stale = [
        path
        for path, digest in manifest["sources"].items()
        if not (ROOT_DIR / path).is_file()
        or hashlib.sha256((ROOT_DIR / path).read_bytes()).hexdigest() != digest
    ]
    assert stale == [], f"portal/dist was built from older files ({stale}): rebuild the portal"
    assert sorted(manifest["pages"]) == sorted(PAGES)
    assert manifest["errors"]["limitsMissing"] == [], manifest["errors"]["limitsMissing"]
    assert manifest["errors"]["undocumented"] == [], (
        "explain these error codes in portal/content/errors.json: "
        f"{manifest['errors']['undocumented']}"
    )


def test_the_guide_s_signature_check_verifies_the_gateway_s_deliveries() -> None:
    html = (DIST / "guide.html").read_text()
    found = re.search(r'<pre[^>]*id="verify-signature"[^>]*><code>(.*?)</code></pre>', html, re.S)
    assert found, "guide.html has no signature verification example"
    namespace: dict[str, Any] = {}
    exec(unescape(found.group(1)), namespace)
    verify = namespace["verify"]

    old, new = new_secret(), new_secret()
    body = '{"type": "job.completed", "data": {"id": "job_1"}}'
    sent_at = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    headers = signed_headers("evt_1", sent_at, body, [new, old])  # a rotation overlap
    assert verify(new, headers, body.encode())
    assert verify(old, headers, body.encode())
    assert not verify(new, headers, body.replace("job_1", "job_2").encode())
    assert not verify(new_secret(), headers, body.encode())


@pytest.mark.parametrize(
    "setting",
    [
        "rate_limit_burst",
        "rate_limit_per_second",
        "webhook_rate_limit_burst",
        "webhook_rate_limit_per_second",
        "auth_failure_burst",
        "auth_failure_per_second",
        "max_records_per_call",
        "max_body_bytes",
    ],
)
def test_the_guide_quotes_the_gateway_s_own_limits(setting: str) -> None:
    default = Settings.model_fields[setting].default
    shown = f"{int(default):,}" if float(default).is_integer() else str(default)
    guide = (DIST / "guide.html").read_text()
    row = re.search(rf"GATEWAY_{setting.upper()}</code></td><td>([^<]*)</td>", guide)
    assert row, f"the guide's limits table has no row for {setting}: rebuild the portal"
    assert row.group(1) == shown, f"the guide says {row.group(1)}, the default is {shown}"


def test_the_portal_assets_stay_within_the_size_budget() -> None:
    assets = [path for path in DIST.rglob("*") if path.is_file() and path.suffix in {".js", ".css"}]
    total = sum(len(gzip.compress(path.read_bytes(), 9)) for path in assets)
    assert assets and total <= 1_500_000, f"{total} bytes gzip in {len(assets)} assets"


def test_every_example_operation_is_valid_against_the_schema() -> None:
    schema = build_schema((ROOT_DIR / "graphql/schema.graphql").read_text())
    problems = {
        name: [error.message for error in validate(schema, parse(text))]
        for name, text in OPERATIONS.items()
    }
    assert OPERATIONS and all(not errors for errors in problems.values()), problems
