"""The gateway as a partner meets it: a real `gateway serve` process spoken to over HTTP.

The README tour is read from README.md itself, so the documented requests are the ones tested.
"""

import json
import re
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from app.settings import ROOT_DIR
from tests.e2e.gateway_process import Server

FINAL_STATUSES = {"SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED"}
JOB_SECONDS = 15.0
README = ROOT_DIR / "README.md"
# Hosts of public CDNs: the explorer must work offline, so nothing may load from them.
CDN_HOSTS = re.compile(
    r"unpkg\.com|jsdelivr\.(?:net|com)|cdnjs\.cloudflare\.com|cdnjs\.com|fonts\.googleapis\.com"
)
JOB_QUERY = """query Job($id: ID!) {
  job(id: $id) {
    id status requestId
    counters { received valid quarantined unchanged stale written processed }
    errors { nodes { path code message } }
  }
}"""
PUSH = """mutation Push($input: IngestProductsInput!) {
  ingestProducts(input: $input) { job { id status requestId } errors { code message path } }
}"""


# --- helpers -------------------------------------------------------------------------------------


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def graphql(
    server: Server,
    body: dict[str, Any],
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = {**(bearer(key) if key else {}), **(headers or {})}
    return httpx.post(server.graphql, json=body, headers=all_headers, timeout=10.0)


def graphql_data(server: Server, body: dict[str, Any], key: str, **kwargs: Any) -> dict[str, Any]:
    response = graphql(server, body, key, **kwargs)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload["errors"]
    return dict(payload["data"])


def product(external_id: str, name: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "source_platform": "shopify",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "name": name,
        "price": {"amount": "12.50", "currency": "EUR"},
    }


def push_products(
    server: Server, records: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    variables = {"input": {"idempotencyKey": f"e2e-{uuid.uuid4().hex}", "records": records}}
    data = graphql_data(
        server, {"query": PUSH, "variables": variables}, server.sandbox_test_key, headers=headers
    )
    payload = data["ingestProducts"]
    assert payload["errors"] == [], payload
    return dict(payload["job"])


def wait_for_job(server: Server, job_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Poll the job until it reaches a final status (bounded)."""
    body = body or {"query": JOB_QUERY, "variables": {"id": job_id}}
    deadline = time.monotonic() + JOB_SECONDS
    job: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        job = graphql_data(server, body, server.sandbox_test_key)["job"]
        assert job is not None, f"job {job_id} is not visible to the key that created it"
        if job["status"] in FINAL_STATUSES:
            return dict(job)
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not finish within {JOB_SECONDS} s; last seen: {job}")


def wait_for_log(server: Server, predicate: Any, what: str) -> list[dict[str, Any]]:
    """Log lines are written after the commit a client can observe: give them a moment."""
    deadline = time.monotonic() + 5.0
    while True:
        lines = server.log_lines()
        if any(predicate(line) for line in lines):
            return lines
        if time.monotonic() > deadline:
            pytest.fail(f"no log line {what} on stderr:\n{server.stderr_text()}")
        time.sleep(0.1)


def readme_tour() -> tuple[dict[str, Any], dict[str, Any], str]:
    """The bodies of the tour's curl calls (steps 3 and 4) and its read-back query."""
    text = README.read_text(encoding="utf-8")
    bodies = re.findall(r"-d '(\{.*?\})'", text, flags=re.DOTALL)
    assert len(bodies) >= 2, "README.md tour should hold the push (step 3) and job (step 4) calls"
    push, job = (json.loads(body) for body in bodies[:2])
    records = re.search(r"`(\{ records\(entity: PRODUCT.*?\})`", text)
    assert records, "README.md tour should show the records(entity: PRODUCT, …) query"
    return push, job, records.group(1)


class AssetReferences(HTMLParser):
    """Collects every <script src> and <link href> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.references.append(value)


# Chunks a bundle loads by itself: `import("./x.js")`, `from "./x.js"`, `"assets/x.js"` (vite).
BUNDLE_REFERENCE = re.compile(r"""["'`](?:\./|/portal/assets/|assets/)([\w.-]+\.(?:js|css))["'`]""")
CSS_URL = re.compile(r"""url\(\s*["']?(?!data:)([^"')\s]+)""")


# --- a. the README tour -------------------------------------------------------------------------


def test_the_readme_tour_pushes_three_products_and_reads_them_back(server: Server) -> None:
    push_body, job_body_template, records_query = readme_tour()
    products = push_body["variables"]["input"]["records"]
    external_ids = [record["external_id"] for record in products]
    assert len(products) == 3, push_body

    response = graphql(server, push_body, server.sandbox_test_key)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload
    accepted = payload["data"]["ingestProducts"]
    assert accepted["errors"] == [], accepted
    assert accepted["job"]["id"].startswith("job_"), accepted
    assert accepted["job"]["status"] in {"QUEUED", "PROCESSING", *FINAL_STATUSES}, accepted

    # Step 4 exactly as documented, with the printed job id in place of `job_…`.
    job_body = json.loads(
        json.dumps(job_body_template, ensure_ascii=False).replace("job_…", accepted["job"]["id"])
    )
    job = wait_for_job(server, accepted["job"]["id"], job_body)
    assert job["status"] == "SUCCEEDED", job
    assert job["counters"]["received"] == 3, job
    assert job["counters"]["valid"] == 3, job
    assert job["counters"]["quarantined"] == 0, job
    assert job["counters"]["written"] == 3, job
    assert job["errors"]["nodes"] == [], job

    query = re.sub(
        r"externalIds: \[[^\]]*\]", f"externalIds: {json.dumps(external_ids)}", records_query
    )
    data = graphql_data(server, {"query": query}, server.sandbox_test_key)
    stored = {node["externalId"]: node for node in data["records"]["nodes"]}
    assert sorted(stored) == sorted(external_ids), data
    for pushed in products:
        node = stored[pushed["external_id"]]
        assert node["version"] == 1, node
        for field, value in pushed.items():
            assert node["data"][field] == value, (field, node["data"])

    # Pushing the identical tour body again is a replay of the same job, not new data.
    replay = graphql_data(server, push_body, server.sandbox_test_key)["ingestProducts"]
    assert replay["job"]["id"] == accepted["job"]["id"], replay


# --- b. the GraphQL explorer ---------------------------------------------------------------------


def test_the_graphql_explorer_is_served_with_local_assets_only(
    server: Server, portal_dist: Path
) -> None:
    page = portal_dist / "graphiql.html"
    if not page.is_file():
        pytest.fail(
            f"{page} is missing: build the portal first (`cd portal && npm ci && npm run build`, "
            "or `./gateway.sh serve`, which builds it)."
        )

    response = httpx.get(server.graphql, headers={"Accept": "text/html"}, timeout=10.0)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html"), response.headers
    html = response.text
    assert "<html" in html.lower(), html[:500]

    parser = AssetReferences()
    parser.feed(html)
    assert parser.references, f"the explorer page loads no script or stylesheet:\n{html}"
    remote = [ref for ref in parser.references if not ref.startswith("/") or ref.startswith("//")]
    assert remote == [], f"the explorer must load only local assets, found {remote}"

    # Fetch each asset and, transitively, every chunk and stylesheet those assets load.
    served: dict[str, str] = {"/graphql": html}
    pending = list(parser.references)
    while pending:
        path = pending.pop()
        if path in served:
            continue
        asset = httpx.get(urljoin(server.url, path), timeout=10.0)
        assert asset.status_code == 200, f"{path} answered {asset.status_code}"
        served[path] = asset.text
        base = path.rsplit("/", 1)[0] + "/"
        if path.endswith(".js"):
            pending += [base + name for name in BUNDLE_REFERENCE.findall(asset.text)]
        elif path.endswith(".css"):
            for url in CSS_URL.findall(asset.text):
                assert not urlsplit(url).netloc, f"{path} loads {url} from another host"
                pending.append(urlsplit(urljoin(urljoin(server.url, path), url)).path)
    assert len(served) > 2, f"expected the page, its script and its stylesheet: {sorted(served)}"

    for path, content in served.items():
        found = sorted(set(CDN_HOSTS.findall(content)))
        assert found == [], f"{path} references a CDN ({found}): the explorer must work offline"


# --- c. the request id follows the request into the job ------------------------------------------


def test_the_request_id_follows_the_push_into_the_job_and_its_logs(server: Server) -> None:
    request_id = "e2e-trace-123"
    job = push_products(
        server,
        [product(f"trace-{n}", f"Traced {n}") for n in range(2)],
        headers={"X-Request-ID": request_id},
    )
    assert job["requestId"] == request_id, job
    finished = wait_for_job(server, job["id"])
    assert finished["status"] == "SUCCEEDED", finished
    assert finished["requestId"] == request_id, finished

    def is_finish(line: dict[str, Any]) -> bool:
        return line.get("event") == "job.finished" and line.get("job_id") == job["id"]

    lines = wait_for_log(server, is_finish, f"job.finished for {job['id']}")  # all JSON objects
    traced = [line for line in lines if line.get("request_id") == request_id]
    accepted = [line for line in traced if line.get("event") == "ingest.accepted"]
    assert accepted, f"no ingest.accepted line with request_id {request_id}:\n{traced}"
    assert accepted[0].get("job_id") == job["id"], accepted
    finished_lines = [line for line in traced if line.get("event") == "job.finished"]
    assert finished_lines, f"no job.finished line with request_id {request_id}:\n{traced}"
    assert all(line.get("job_id") == job["id"] for line in finished_lines), finished_lines
    started = [line for line in traced if line.get("event") == "job.started"]
    assert started and started[0].get("job_id") == job["id"], traced
    # The request's own access line carries it too.
    assert any(
        line.get("event") == "http.request" and line.get("path") == "/graphql" for line in traced
    ), traced


def test_the_request_id_is_echoed_back_on_the_response(server: Server) -> None:
    response = httpx.get(f"{server.url}/health", headers={"X-Request-ID": "e2e-echo-1"})
    assert response.headers["x-request-id"] == "e2e-echo-1"
    generated = httpx.get(f"{server.url}/health").headers["x-request-id"]
    assert generated.startswith("req_"), generated


# --- d. no secret in the logs --------------------------------------------------------------------


def test_the_api_key_never_reaches_the_logs(server: Server) -> None:
    key = server.sandbox_test_key
    job = push_products(server, [product("secret-check-1", "Quiet Shirt")])
    assert wait_for_job(server, job["id"])["status"] == "SUCCEEDED"
    # A rejected call and an invalid record travel other paths through the code.
    empty = {"query": PUSH, "variables": {"input": {"records": []}}}
    rejected = graphql_data(server, empty, key)["ingestProducts"]
    assert rejected["job"] is None and rejected["errors"], rejected
    bad = push_products(server, [{**product("secret-check-2", "Bad"), "price": {"amount": 1}}])
    assert wait_for_job(server, bad["id"])["status"] == "FAILED"
    wait_for_log(
        server,
        lambda line: line.get("event") == "job.finished" and line.get("job_id") == bad["id"],
        f"job.finished for {bad['id']}",
    )

    logs = server.stderr_text()
    assert "ingest.accepted" in logs, "the pushes should have been logged"
    assert key not in logs, "the full API key was written to the logs"
    secret_part = key.rsplit("_", 1)[1]
    assert secret_part not in logs, "the secret part of the API key was written to the logs"


# --- e. authentication ---------------------------------------------------------------------------

VIEWER = {"query": "{ viewer { mode } }"}


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("gw_test_000000000000_" + "0" * 48, id="unknown-well-formed"),
        pytest.param("not-a-gateway-key", id="malformed"),
        pytest.param("gw_test_short", id="malformed-prefix"),
    ],
)
def test_an_invalid_key_is_refused_with_401(server: Server, key: str) -> None:
    response = graphql(server, VIEWER, key)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key", error
    assert error["message"], error
    assert "data" not in response.json()


def test_a_valid_key_is_accepted(server: Server) -> None:
    data = graphql_data(server, VIEWER, server.sandbox_test_key)
    assert data == {"viewer": {"mode": "TEST"}}


def test_a_request_without_a_key_gets_401_and_an_unauthenticated_error(server: Server) -> None:
    response = graphql(server, VIEWER)
    assert response.status_code == 401, response.text
    body = response.json()
    assert body.get("data") is None, body
    codes = [error.get("extensions", {}).get("code") for error in body["errors"]]
    assert codes == ["unauthenticated"], body


def test_introspection_works_without_a_key_so_the_explorer_can_load_the_docs(
    server: Server,
) -> None:
    response = graphql(server, {"query": "{ __schema { queryType { name } } }"})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
