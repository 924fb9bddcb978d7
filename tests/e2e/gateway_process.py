"""A real gateway process: `gateway serve --json` on a free port with a SQLite database of its own.

The one starter the end-to-end tests and the benchmarks share (tests/helpers.py `running_gateway`
is its in-process counterpart, for tests that need the app's objects). It reads the one JSON line
`serve` prints on stdout (the URLs and the sandbox test key), waits for /health, and keeps what the
server writes to stderr in a file the tests read.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port

STARTUP_SECONDS = 60.0  # a loaded 2-core machine can take this long to import and migrate
STOP_SECONDS = 10.0


def gateway_command() -> str:
    """The `gateway` entry point installed next to the interpreter running the tests."""
    candidate = Path(sys.executable).parent / "gateway"
    if candidate.is_file():
        return str(candidate)
    pytest.fail(f"The gateway command is not installed next to {sys.executable}.")


def clean_environment(**gateway: str) -> dict[str, str]:
    """The caller's environment without any GATEWAY_* setting, plus the given ones."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
    env.update(gateway)
    return env


def database_url(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'gw.db'}"


@dataclass
class Server:
    url: str
    graphql: str
    sandbox_test_key: str
    stderr_path: Path
    process: subprocess.Popen[bytes]

    @property
    def workdir(self) -> Path:
        return self.stderr_path.parent

    @property
    def database_url(self) -> str:
        return database_url(self.workdir)

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


def _wait_healthy(url: str, process: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_SECONDS)


@contextmanager
def gateway_process(workdir: Path, **settings: str) -> Iterator[Server]:
    """`gateway serve --json` in `workdir` (its database is workdir/gw.db), GATEWAY_* `settings`
    added to a clean environment; stopped on exit."""
    port = free_port()
    defaults = {"GATEWAY_DATABASE_URL": database_url(workdir), "GATEWAY_LOG_LEVEL": "INFO"}
    env = clean_environment(**{**defaults, **settings})
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
            stderr_text = stderr_path.read_text(errors="replace")
            pytest.fail(
                f"`gateway serve --json` printed no line on stdout.\nstderr:\n{stderr_text}"
            )
        banner = json.loads(first_line)
        assert isinstance(banner, dict), first_line
        assert {"url", "graphql", "sandbox_test_key"} <= set(banner), banner
        assert banner["url"] == f"http://127.0.0.1:{port}", banner
        assert banner["graphql"] == f"{banner['url']}/graphql", banner
        assert banner["sandbox_test_key"], "a brand-new database must come with a sandbox key"
        if not _wait_healthy(banner["url"], process, deadline):
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
        stop(process)
