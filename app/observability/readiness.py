"""Readiness: can this process do its work now? The database always; Redis when jobs go through
arq (GATEWAY_REDIS_URL); the built-in sandbox when it is enabled (test keys write to it over HTTP,
at GATEWAY_SANDBOX_PUBLIC_URL or this process's own address).

Checks run concurrently, each bounded by GATEWAY_READY_TIMEOUT_SECONDS. A failure names the check
and the kind of error only: connection strings, hosts and passwords never appear in the answer.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import structlog
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.settings import Settings

log = structlog.get_logger("gateway.ready")


class CheckFailed(Exception):
    """A check's own explanation, safe to show."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    duration_ms: float
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"ok": self.ok, "duration_ms": self.duration_ms}
        if self.error is not None:
            body["error"] = self.error
        return body


async def _database(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await session.execute(text("SELECT 1"))


async def _redis(url: str, seconds: float) -> None:
    client = Redis.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)
    try:
        if not await client.ping():
            raise CheckFailed("Redis did not answer PONG.")
    finally:
        await client.aclose()


async def _sandbox(settings: Settings, seconds: float) -> None:
    if not settings.secret_key:
        raise CheckFailed("GATEWAY_SECRET_KEY is not set: sandbox tokens cannot be issued.")
    url = f"{settings.sandbox_url}/sandbox/airtable/v0/meta/bases"
    async with httpx.AsyncClient(timeout=seconds) as client:
        response = await client.get(url)
    if response.status_code != 401:  # the emulator refuses a call without a token: it is up
        raise CheckFailed(f"The sandbox answered HTTP {response.status_code}, expected 401.")


async def _timed(name: str, check: Callable[[], Awaitable[None]], seconds: float) -> CheckResult:
    started = time.perf_counter()
    error = None
    try:
        async with asyncio.timeout(seconds):
            await check()
    except CheckFailed as failed:
        error = str(failed)
    except TimeoutError:
        error = f"No answer within {seconds:g} s."
    except Exception as failed:  # the type only: messages may carry hosts or credentials
        error = f"Unavailable ({type(failed).__name__})."
    duration = round((time.perf_counter() - started) * 1000, 2)
    if error is not None:
        log.warning("ready.check_failed", check=name, error=error)
    return CheckResult(name, error is None, duration, error)


async def check_readiness(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> list[CheckResult]:
    timeout = settings.ready_timeout_seconds
    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": lambda: _database(sessions)}
    redis_url = settings.redis_url
    if redis_url:
        checks["redis"] = lambda: _redis(redis_url, timeout)
    if settings.sandbox_enabled:
        checks["sandbox"] = lambda: _sandbox(settings, timeout)
    return list(
        await asyncio.gather(*(_timed(name, check, timeout) for name, check in checks.items()))
    )
