"""Delivering events: send each claimed delivery signed (app.events.claims does the claiming),
record every attempt and schedule the next one or finish the delivery.

Nothing is held open while a subscriber answers. A worker that dies mid-send leaves a lease that
expires; the delivery is then sent again with the same webhook-id, which receivers dedupe on.
"""

import asyncio
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.events.claims import FAN_OUT_BATCH, Claim, claim_due, fan_out
from app.events.models import (
    DeliveryStatus,
    EventDelivery,
    EventDeliveryAttempt,
    WebhookEndpoint,
)
from app.events.signing import signed_headers
from app.events.store import cancel_pending
from app.events.urls import EndpointUrlRefused, check_reachable_publicly
from app.observability.pipeline import count_delivery
from app.settings import Settings
from app.tenancy.models import Tenant
from app.usage.metrics import Metric
from app.usage.service import add_usage

log = structlog.get_logger("gateway.events")

EXCERPT_CHARS = 500
JITTER = 0.1  # ±10% on every scheduled delay, so failed deliveries do not retry in lockstep
_SECRET_LIKE = re.compile(r"whsec_[A-Za-z0-9+/=]+|v1,[A-Za-z0-9+/=]{20,}")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def _redacted(text: str) -> str:
    return _SECRET_LIKE.sub("[redacted]", text)


async def _excerpt(response: httpx.Response) -> str:
    received = b""
    async for chunk in response.aiter_bytes():
        received += chunk
        if len(received) >= EXCERPT_CHARS * 4:
            break
    return _redacted(received.decode("utf-8", "replace")[:EXCERPT_CHARS])


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


async def send(http: httpx.AsyncClient, claim: Claim, settings: Settings) -> Outcome:
    started, clock = _now(), time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - clock) * 1000)

    timeout = settings.event_delivery_timeout_seconds
    try:
        if claim.livemode:
            await check_reachable_publicly(claim.url, livemode=True)
        headers = signed_headers(claim.event_id, started, claim.body, claim.signing_secrets)
        async with asyncio.timeout(timeout):
            async with http.stream(
                "POST", claim.url, content=claim.body, headers=headers
            ) as response:
                excerpt = await _excerpt(response)
    except EndpointUrlRefused as refused:
        return Outcome(started, elapsed(), error=refused.message)
    except TimeoutError:
        return Outcome(started, elapsed(), error=f"No response within {timeout:g} s.")
    except httpx.HTTPError as error:
        return Outcome(started, elapsed(), error=_redacted(f"{type(error).__name__}: {error}"))
    code = response.status_code
    failure = None if 200 <= code < 300 else f"The endpoint answered HTTP {code}."
    return Outcome(started, elapsed(), code, failure, excerpt, _retry_after(response))


def next_attempt(settings: Settings, step: int, outcome: Outcome) -> datetime | None:
    """When to retry after the round's attempt number `step` (from 0) failed; None when the
    schedule is spent."""
    schedule = settings.event_delivery_retry_schedule_seconds
    if step >= len(schedule):
        return None
    delay = schedule[step] * random.uniform(1 - JITTER, 1 + JITTER)
    if outcome.retry_after is not None:
        delay = max(delay, min(outcome.retry_after, max(schedule)))
    return _now() + timedelta(seconds=delay)


def _moved_on(claim: Claim, outcome: Outcome, settings: Settings) -> dict[str, Any]:
    """The delivery's new state after this attempt."""
    values: dict[str, Any] = {
        "attempts": EventDelivery.attempts + 1,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "lease_token": None,
        "lease_expires_at": None,
        "updated_at": _now(),
        "next_attempt_at": None,
    }
    if outcome.succeeded:
        return values | {"status": DeliveryStatus.SUCCEEDED, "delivered_at": outcome.started_at}
    retry_at = None if outcome.gone else next_attempt(settings, claim.retry_step, outcome)
    if retry_at is None:
        return values | {"status": DeliveryStatus.FAILED}
    return values | {
        "status": DeliveryStatus.PENDING,
        "next_attempt_at": retry_at,
        "retry_step": claim.retry_step + 1,
    }


async def record(
    sessions: async_sessionmaker[AsyncSession],
    attempts: list[tuple[Claim, Outcome]],
    settings: Settings,
) -> None:
    """Keep the attempts, then move each delivery on (only where this worker still holds its
    lease), in one transaction."""
    async with sessions() as session, session.begin():
        await session.execute(
            insert(EventDeliveryAttempt),
            [
                {
                    "delivery_id": claim.delivery_id,
                    "client_id": claim.client_id,
                    "started_at": outcome.started_at,
                    "duration_ms": outcome.duration_ms,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "response_excerpt": outcome.excerpt,
                }
                for claim, outcome in attempts
            ],
        )
        for claim, outcome in attempts:
            values = _moved_on(claim, outcome, settings)
            await session.execute(
                update(EventDelivery)
                .where(
                    EventDelivery.id == claim.delivery_id,
                    EventDelivery.lease_token == claim.lease_token,
                )
                .values(**values)
            )
            if outcome.succeeded:
                delivered = Tenant(claim.client_id, claim.livemode)
                await add_usage(session, delivered, {Metric.WEBHOOK_DELIVERIES: 1})
            if outcome.gone:  # Standard Webhooks: 410 means "disable this endpoint"
                await _disable(session, claim.endpoint_id, "The endpoint answered 410 Gone.")
            log.info(
                "webhook.attempt",
                delivery_id=claim.delivery_id,
                event_id=claim.event_id,
                endpoint_id=claim.endpoint_id,
                status_code=outcome.status_code,
                duration_ms=outcome.duration_ms,
                outcome=values["status"].value,
            )
            count_delivery(values["status"])


async def _disable(session: AsyncSession, endpoint_id: str, reason: str) -> None:
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(enabled=False, disabled_reason=reason, updated_at=_now())
    )
    await cancel_pending(session, endpoint_id, reason)
    log.warning("webhook.endpoint_disabled", endpoint_id=endpoint_id, reason=reason)


async def _release_inactive(
    sessions: async_sessionmaker[AsyncSession], claims: list[Claim]
) -> None:
    """Their endpoint was disabled or deleted after they were claimed: they are not sent."""
    async with sessions() as session, session.begin():
        for claim in claims:
            await session.execute(
                update(EventDelivery)
                .where(
                    EventDelivery.id == claim.delivery_id,
                    EventDelivery.lease_token == claim.lease_token,
                )
                .values(
                    status=DeliveryStatus.CANCELLED.value,
                    next_attempt_at=None,
                    lease_token=None,
                    lease_expires_at=None,
                    last_error="The endpoint was disabled.",
                    updated_at=_now(),
                )
            )


async def _claim_and_send(
    sessions: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    settings: Settings,
    sending: dict[asyncio.Task[Outcome], Claim],
) -> int:
    """Fill the free slots; returns how many deliveries were claimed."""
    while await fan_out(sessions) == FAN_OUT_BATCH:
        pass
    free = settings.event_delivery_concurrency - len(sending)
    claims = await claim_due(sessions, settings, free) if free else []
    inactive = [claim for claim in claims if not claim.endpoint_active]
    if inactive:
        await _release_inactive(sessions, inactive)
    for claim in claims:
        if claim.endpoint_active:
            sending[asyncio.create_task(send(http, claim, settings))] = claim
    return len(claims)


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    settings: Settings,
    wake: asyncio.Event | None = None,
) -> int:
    """Fan out new events and send every delivery that is due, until none is due or in flight;
    returns how many deliveries were claimed. Each delivery holds one of the
    `event_delivery_concurrency` slots while it is sent, so a subscriber that hangs delays no
    other delivery; attempts that end together are recorded together."""
    sending: dict[asyncio.Task[Outcome], Claim] = {}
    claimed = 0
    try:
        while True:
            found = await _claim_and_send(sessions, http, settings, sending)
            claimed += found
            if not sending:
                if found:
                    continue  # only deliveries to disabled endpoints: look again
                return claimed
            ended = await _until_some_end(set(sending), wake, settings)
            results = [(sending.pop(task), task) for task in ended]
            for claim, task in results:
                if task.exception() is not None:  # its lease lapses and it is sent again
                    log.error(
                        "webhook.send_crashed",
                        delivery_id=claim.delivery_id,
                        exc_info=task.exception(),
                    )
            finished = [(claim, task.result()) for claim, task in results if not task.exception()]
            if finished:
                await record(sessions, finished, settings)
    finally:
        for task in sending:
            task.cancel()


async def _until_some_end(
    sending: set[asyncio.Task[Outcome]], wake: asyncio.Event | None, settings: Settings
) -> set[asyncio.Task[Outcome]]:
    """The sends that ended, once one has, new events came (`wake`) or the poll interval
    passed."""
    waiter = asyncio.create_task(wake.wait()) if wake is not None else None
    watched: set[asyncio.Task[Any]] = set(sending) | ({waiter} if waiter else set())
    done, _ = await asyncio.wait(
        watched,
        timeout=settings.event_delivery_poll_interval_seconds,
        return_when=asyncio.FIRST_COMPLETED,
    )
    if waiter is not None and wake is not None:
        waiter.cancel()
        wake.clear()
    return done & sending


def http_client() -> httpx.AsyncClient:
    """Redirects are not followed: a subscriber answers for itself, it does not send us on."""
    return httpx.AsyncClient(
        follow_redirects=False, headers={"user-agent": "smart-gateway-webhooks"}
    )
