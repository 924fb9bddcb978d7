"""Driving the portal in Debian's headless Chromium through Playwright (no browser download).

Every page a test opens goes through `Browsing`: requests to any host other than the gateway's
loopback address are aborted and recorded (a test fails on them), axe-core checks accessibility
from the portal's own node_modules (injected, never fetched) and each page leaves a screenshot in
tests/e2e/artifacts/.
"""

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Request, Route, sync_playwright

from app.settings import ROOT_DIR
from tests.e2e.gateway_process import Server, clean_environment, gateway_command

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SCRIPT = ROOT_DIR / "portal" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).parent / "artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
BLOCKING_IMPACTS = {"serious", "critical"}
TIMEOUT_MS = 20_000


def require_chromium() -> None:
    """Skip without a browser, unless CI demands every service (then it is a failure)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium"
    if os.environ.get("GATEWAY_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


class Browsing:
    """One Chromium profile for a test module; pages opened through it are guarded."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.off_localhost: list[str] = []
        self.console_errors: list[str] = []
        context.route("**/*", self._guard)

    def _guard(self, route: Route, request: Request) -> None:
        host = urlsplit(request.url).hostname or ""
        if host in LOCAL_HOSTS:
            route.continue_()
            return
        if request.url not in self.off_localhost:
            self.off_localhost.append(request.url)
        route.abort()

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", self._record_scheme)
        page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        return page

    def _record_scheme(self, request: Request) -> None:
        # route() sees http(s) only: a websocket or other scheme to a remote host is caught here.
        parts = urlsplit(request.url)
        if parts.scheme in {"data", "blob", "about"}:
            return
        if (parts.hostname or "") not in LOCAL_HOSTS and request.url not in self.off_localhost:
            self.off_localhost.append(request.url)

    def assert_stayed_local(self) -> None:
        assert self.off_localhost == [], f"requests left localhost: {self.off_localhost}"


@contextmanager
def browsing() -> Iterator[Browsing]:
    require_chromium()
    with (
        tempfile.TemporaryDirectory(prefix="portal-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield Browsing(context)
        finally:
            context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not AXE_SCRIPT.is_file():
        pytest.fail(
            f"{AXE_SCRIPT} is missing: run `npm ci` in portal/ (axe-core is a devDependency)"
        )
    page.add_script_tag(content=AXE_SCRIPT.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"][:5]],
        }
        for violation in result
        if violation.get("impact") in BLOCKING_IMPACTS
    ]


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert violations == [], "axe found serious violations:\n" + json.dumps(violations, indent=1)


def check_page(page: Page, name: str) -> None:
    """What every portal page must pass once loaded: a screenshot kept, then axe."""
    screenshot(page, name)
    assert_accessible(page)


def graphql(
    server: Server, query: str, variables: dict[str, Any] | None = None, key: str | None = None
) -> Any:
    """The `data` of a GraphQL call with the sandbox key (or `key`); fails on any error."""
    response = httpx.post(
        server.graphql,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key or server.sandbox_test_key}"},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def gateway_cli(server: Server, *arguments: str) -> Any:
    """`gateway <arguments> --json` on the served gateway's database: its one JSON answer."""
    done = subprocess.run(
        [gateway_command(), *arguments, "--json"],
        env=clean_environment(GATEWAY_DATABASE_URL=server.database_url),
        cwd=server.workdir,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def wait_for(check: Callable[[], Any], what: str, seconds: float = 60.0) -> Any:
    """Poll until check() returns something truthy (a wait, not a timed assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"gave up waiting for {what}")
