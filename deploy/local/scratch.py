"""Private services for the local topology's fault tests and load tests: a fresh PostgreSQL
database on a given server (dropped after) and a redis-server of their own on a free port, so they
may kill, restart or flood them without touching what anything else uses."""

import asyncio
import subprocess
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]


def admin_dsn(url: str, database: str | None = None) -> str:
    """asyncpg's DSN for `url` (a SQLAlchemy URL), optionally on another database."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    return dsn if database is None else dsn.rsplit("/", 1)[0] + "/" + database


def create_database(url: str, prefix: str) -> str:
    """A fresh `<prefix>_<random>` database on the server of `url`; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _run(_execute(admin_dsn(url), f'CREATE DATABASE "{name}"'))
    return url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    statement = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    _run(_execute(admin_dsn(url, "postgres"), statement))


async def _execute(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _run(work: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to the end from sync code, even when the caller's thread has a running
    event loop (pytest fixtures): on a thread of its own."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(work)
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


@dataclass
class RedisServer:
    """redis-server on its own port, no persistence: a restart loses every queued message."""

    port: int
    process: "subprocess.Popen[bytes] | None" = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
