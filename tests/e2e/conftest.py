"""A real gateway process: `gateway serve --json` on a free port with a brand-new SQLite database.

The fixture reads the one JSON line `serve` prints on stdout (the URLs and the sandbox test key),
waits for /health, and keeps everything the server writes to stderr in a file the tests read.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.settings import ROOT_DIR

STARTUP_SECONDS = 20.0
STOP_SECONDS = 10.0


def gateway_command() -> str:
    """The `gateway` entry point installed next to the interpreter running the tests."""
    candidate = Path(sys.executable).parent / "gateway"
    if candidate.is_file():
        return str(candidate)
    pytest.fail(f"The gateway command is not installed next to {sys.executable}.")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**gateway: str) -> dict[str, str]:
    """The caller's environment without any GATEWAY_* setting, plus the given ones."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
    env.update(gateway)
    return env


@dataclass
class Server:
    url: str
    graphql: str
    sandbox_test_key: str
    stderr_path: Path
    process: subprocess.Popen[bytes]

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """Every non-empty stderr line as a JSON object (fails on the first line that is not)."""
        parsed = []
        for number, line in enumerate(self.stderr_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                pytest.fail(f"stderr line {number} is not JSON ({error}): {line!r}")
            assert isinstance(value, dict), f"stderr line {number} is not a JSON object: {line!r}"
            parsed.append(value)
        return parsed


def _first_stdout_line(path: Path, process: subprocess.Popen[bytes], deadline: float) -> str:
    while time.monotonic() < deadline:
        content = path.read_text(encoding="utf-8", errors="replace")
        if "\n" in content:
            return content.split("\n", 1)[0]
        if process.poll() is not None:
            break
        time.sleep(0.05)
    return ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_SECONDS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("gateway-serve")
    port = free_port()
    env = clean_environment(
        GATEWAY_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'gw.db'}",
        GATEWAY_LOG_LEVEL="INFO",
    )
    stdout_path, stderr_path = workdir / "stdout.txt", workdir / "stderr.txt"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [gateway_command(), "serve", "--json", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        first_line = _first_stdout_line(stdout_path, process, deadline)
        if not first_line:
            pytest.fail(
                "`gateway serve --json` printed no line on stdout.\n"
                f"stderr:\n{stderr_path.read_text(errors='replace')}"
            )
        banner = json.loads(first_line)
        assert isinstance(banner, dict), first_line
        assert {"url", "graphql", "sandbox_test_key"} <= set(banner), banner
        assert banner["url"] == f"http://127.0.0.1:{port}", banner
        assert banner["graphql"] == f"{banner['url']}/graphql", banner
        assert banner["sandbox_test_key"], "a brand-new database must come with a sandbox key"

        healthy = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                healthy = httpx.get(f"{banner['url']}/health", timeout=1.0).status_code == 200
            except httpx.TransportError:
                healthy = False
            if healthy:
                break
            time.sleep(0.1)
        if not healthy:
            pytest.fail(
                f"the server did not answer GET /health with 200 within {STARTUP_SECONDS} s "
                f"(exit code {process.poll()}).\nstderr:\n{stderr_path.read_text(errors='replace')}"
            )
        yield Server(
            url=banner["url"],
            graphql=banner["graphql"],
            sandbox_test_key=banner["sandbox_test_key"],
            stderr_path=stderr_path,
            process=process,
        )
    finally:
        _stop(process)


@pytest.fixture
def portal_dist() -> Path:
    return ROOT_DIR / "portal" / "dist"
