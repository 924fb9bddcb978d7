"""The scale-out shape on this machine, without containers: N API processes (`gateway serve`) on
their own ports and M arq workers (`gateway worker`), against one PostgreSQL database and one
Redis — the same processes `deploy/compose.yaml` and `deploy/Procfile` run.

As a context manager (tests, benchmarks):

    with Topology(database_url, redis_url, env={"GATEWAY_LOG_LEVEL": "INFO"}) as topology:
        httpx.post(f"{topology.api_urls[0]}/graphql", ...)
        topology.workers[0].kill()          # kill -9
        topology.workers[0].start()         # and back

From the shell (Ctrl-C stops everything, SIGTERM first):

    python -m deploy.local.topology --database-url postgresql+asyncpg://… \
        --redis-url redis://127.0.0.1:6379/0 --apis 2 --workers 2 --port 8001

Every process gets the same GATEWAY_SECRET_KEY (sandbox tokens must verify everywhere) and the
first API's URL as GATEWAY_SANDBOX_PUBLIC_URL (one process serves the sandbox emulators, as a
load balancer would pin them). The schema is migrated once before any process starts.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """One gateway process; `start()` again after it died or was killed."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> None:
        self._log = self._log or self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """kill -9: no clean-up at all."""
        self.signal(signal.SIGKILL)
        self.wait(10)

    def signal(self, number: int) -> None:
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(number)

    def wait(self, timeout: float) -> int | None:
        if self.popen is None:
            return None
        return self.popen.wait(timeout=timeout)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
        self.signal(signal.SIGTERM)
        try:
            return self.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Topology:
    database_url: str
    redis_url: str
    apis: int = 2
    worker_count: int = 2
    env: dict[str, str] = field(default_factory=dict)
    secret_key: str = "local-topology-secret-key"
    first_port: int | None = None  # default: free ports
    log_dir: Path | None = None
    api_processes: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)

    @property
    def api_urls(self) -> list[str]:
        return [api.url for api in self.api_processes]

    @property
    def sandbox_url(self) -> str:
        return self.api_urls[0]

    def base_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GATEWAY_DATABASE_URL": self.database_url,
            "GATEWAY_REDIS_URL": self.redis_url,
            "GATEWAY_SECRET_KEY": self.secret_key,
            "GATEWAY_LOG_LEVEL": "WARNING",
            **self.env,
        }

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        logs = self.log_dir or Path(tempfile.mkdtemp(prefix="gateway-topology-"))
        logs.mkdir(parents=True, exist_ok=True)
        ports = [
            (self.first_port + n) if self.first_port else free_port() for n in range(self.apis)
        ]
        env = self.base_env() | {"GATEWAY_SANDBOX_PUBLIC_URL": f"http://127.0.0.1:{ports[0]}"}
        subprocess.run(
            [sys.executable, "-m", "app.cli", "migrate"], env=env, cwd=ROOT, check=True,
            capture_output=True,
        )  # fmt: skip
        python = [sys.executable, "-m", "app.cli"]
        self.api_processes = [
            Process(f"api-{n + 1}", [*python, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env, logs / f"api-{n + 1}.log", port)
            for n, port in enumerate(ports)
        ]  # fmt: skip
        self.workers = [
            Process(f"worker-{n + 1}", [*python, "worker"], env, logs / f"worker-{n + 1}.log")
            for n in range(self.worker_count)
        ]
        try:
            for api in self.api_processes:
                api.start()
            for api in self.api_processes:
                wait_healthy(api)
            for worker in self.workers:
                worker.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM to everyone at once (workers drain, APIs finish their requests), then wait."""
        everyone = [*self.workers, *self.api_processes]
        for process in everyone:
            process.signal(signal.SIGTERM)
        for process in everyone:
            process.stop()


def wait_healthy(api: Process, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not api.alive():
            raise RuntimeError(f"{api.name} exited at start-up:\n{api.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{api.url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{api.name} did not answer /health within {within:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=os.environ.get("GATEWAY_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("GATEWAY_REDIS_URL"))
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8001, help="First API port (then +1, …).")
    parser.add_argument("--log-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.database_url or not args.redis_url:
        parser.error("--database-url (PostgreSQL) and --redis-url are required")
    if not args.database_url.startswith("postgresql"):
        parser.error("the scale-out shape needs PostgreSQL: processes share one database")
    topology = Topology(
        args.database_url, args.redis_url, args.apis, args.workers,
        secret_key=os.environ.get("GATEWAY_SECRET_KEY", Topology.secret_key),
        first_port=args.port, log_dir=args.log_dir,
    )  # fmt: skip
    stopping = False

    def on_signal(number: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    with topology:
        print("APIs:", " ".join(topology.api_urls), flush=True)
        print("workers (pids):", " ".join(str(w.pid) for w in topology.workers), flush=True)
        print("logs:", topology.api_processes[0].log_path.parent, flush=True)
        try:
            while not stopping:
                for process in [*topology.api_processes, *topology.workers]:
                    if not process.alive():
                        print(f"{process.name} exited; restarting", flush=True)
                        process.start()
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
