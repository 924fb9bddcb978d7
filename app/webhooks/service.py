"""Receiving a webhook delivery: find the connection named in the URL, verify the signature over
the raw body with its secret(s), then — and only then — parse it, drop events already seen, and
turn the rest into ingest jobs (full records) or change notices. Rejections are counted on the
connection and logged without the body or the secret."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import orjson
import structlog

from app.coalescing import ExpiringCache
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.errors import FieldError, GatewayError
from app.ingest.repeated_keys import read_document, repeated_key_error
from app.ingest.service import IngestRequest, submit_ingest
from app.jobs.models import Door
from app.services import Services
from app.tenancy.models import KeyMode, Principal, Scope
from app.webhooks.batching import IngestBatcher
from app.webhooks.connections import count_rejection, verifying_secrets
from app.webhooks.events import Event, Ingest, events_of
from app.webhooks.ledger import DatabaseLedger, DeliveryLedger, RedisLedger
from app.webhooks.models import WebhookConnection
from app.webhooks.notices import archive_deletions, record_notices
from app.webhooks.signatures import SCHEMES, Scheme, SignatureProblem, SignedRequest, verify

log = structlog.get_logger("gateway.webhooks")

WOOCOMMERCE_PING = re.compile(rb"webhook_id=\d+")


class WebhookRejected(GatewayError):
    """Unsigned or badly signed: 401, counted, nothing processed."""

    def __init__(self, problem: SignatureProblem) -> None:
        super().__init__(problem.code, problem.message, kind="authentication")


class UnknownConnection(GatewayError):
    def __init__(self, source: SourcePlatform) -> None:
        super().__init__(
            "unknown_webhook_connection",
            f"No {source.value} webhook connection at this URL: configure the URL that "
            "setWebhookSecret returned for this platform.",
            kind="not_found",
        )


ReceiptStatus = Literal["accepted", "duplicate", "ping"]


@dataclass
class Receipt:
    status: ReceiptStatus
    connection_id: str
    events: int = 0
    duplicates: int = 0
    job_ids: list[str] = field(default_factory=list)
    notice_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Known:
    connection: WebhookConnection
    secrets: tuple[str, ...]


class WebhookReceiver:
    """One per API process: holds the dedupe ledger and a short-lived cache of connections."""

    def __init__(self, services: Services, ledger: DeliveryLedger) -> None:
        self._services = services
        self._ledger = ledger
        ttl = services.settings.webhook_secret_cache_seconds
        self._known = ExpiringCache(self._load, ttl)
        self._batcher = IngestBatcher(services)

    @classmethod
    def create(cls, services: Services) -> "WebhookReceiver":
        settings = services.settings
        window = settings.webhook_dedupe_seconds
        ledger: DeliveryLedger = (
            RedisLedger(settings.redis_url, window)
            if settings.redis_url
            else DatabaseLedger(services.sessions, window)
        )
        return cls(services, ledger)

    async def close(self) -> None:
        await self._ledger.close()

    async def connection(self, source: SourcePlatform, connection_id: str) -> WebhookConnection:
        """The connection a URL names (what rate limits are keyed on); UnknownConnection if none
        for this platform."""
        return (await self._connection(source, connection_id)).connection

    async def receive(
        self,
        source: SourcePlatform,
        connection_id: str,
        request: SignedRequest,
        request_id: str | None = None,
    ) -> Receipt:
        known = await self._connection(source, connection_id)
        scheme = SCHEMES[source]
        if scheme is Scheme.WOOCOMMERCE and _is_woocommerce_ping(request):
            log.info("webhook.ping", connection_id=connection_id, source=source.value)
            return Receipt(status="ping", connection_id=connection_id)
        known = await self._verified(known, scheme, request)
        events = events_of(source, request.headers, request.body, _parse(request.body))
        return await self._act(known.connection, events, request_id)

    async def _connection(self, source: SourcePlatform, connection_id: str) -> _Known:
        known = await self._known.get(connection_id)
        if known is None or known.connection.platform != source.value:
            raise UnknownConnection(source)
        return known

    async def _load(self, connection_id: str) -> _Known | None:
        async with reading(self._services.sessions) as session:
            connection = await session.get(WebhookConnection, connection_id)
        if connection is None:
            return None
        secrets = verifying_secrets(self._services.settings, connection, datetime.now(UTC))
        return _Known(connection, secrets)

    async def _verified(self, known: _Known, scheme: Scheme, request: SignedRequest) -> _Known:
        """A cached secret may have just been rotated in another process: on a mismatch the
        connection is read again once before the delivery is rejected."""
        tolerance = self._services.settings.webhook_timestamp_tolerance_seconds
        try:
            verify(scheme, request, known.secrets, tolerance)
            return known
        except SignatureProblem as problem:
            stale = _may_be_stale(problem)
            fresh = await self._known.refresh(known.connection.id) if stale else None
            if fresh is not None and fresh.secrets != known.secrets:
                try:
                    verify(scheme, request, fresh.secrets, tolerance)
                    return fresh
                except SignatureProblem as again:
                    problem = again
            raise await self._rejection(known.connection, problem) from None

    async def _rejection(
        self, connection: WebhookConnection, problem: SignatureProblem
    ) -> WebhookRejected:
        """Count and log the rejection (never the body or a secret)."""
        async with self._services.sessions() as session, session.begin():
            await count_rejection(session, connection.id, problem.code)
        log.warning(
            "webhook.rejected",
            connection_id=connection.id,
            client_id=connection.client_id,
            source=connection.platform,
            code=problem.code,
        )
        return WebhookRejected(problem)

    async def _act(
        self, connection: WebhookConnection, events: list[Event], request_id: str | None
    ) -> Receipt:
        receipt = Receipt(status="accepted", connection_id=connection.id, events=len(events))
        fresh = []
        for event in events:
            if await self._ledger.claim(connection, event.delivery_id):
                fresh.append(event)
            else:
                receipt.duplicates += 1
        try:
            await self._ingest(connection, fresh, request_id, receipt)
            notices = [event for event in fresh if not isinstance(event.action, Ingest)]
            if notices:
                async with self._services.sessions() as session, session.begin():
                    await archive_deletions(session, connection, notices)
                    receipt.notice_ids = await record_notices(
                        session, connection, notices, request_id
                    )
        except Exception:
            for event in fresh:
                await self._ledger.release(connection, event.delivery_id)
            raise
        if events and not fresh:
            receipt.status = "duplicate"
        log.info(
            "webhook.received",
            connection_id=connection.id,
            source=connection.platform,
            status=receipt.status,
            topics=sorted({event.topic for event in events}),
            events=receipt.events,
            duplicates=receipt.duplicates,
            job_ids=receipt.job_ids,
            notices=len(receipt.notice_ids),
        )
        return receipt

    async def _ingest(
        self,
        connection: WebhookConnection,
        events: list[Event],
        request_id: str | None,
        receipt: Receipt,
    ) -> None:
        principal = Principal(
            key_id=connection.id,  # the job records which connection brought it
            client_id=connection.client_id,
            mode=KeyMode.LIVE if connection.livemode else KeyMode.TEST,
            scopes=frozenset({Scope.INGEST.value}),
        )
        for event in events:
            action = event.action
            if not isinstance(action, Ingest):
                continue
            if len(action.records) == 1:
                job_id = await self._batcher.submit(
                    principal, action.entity, action.platform, action.records[0], request_id
                )
                receipt.job_ids.append(job_id)
                continue
            request = IngestRequest(
                entity=action.entity,
                records=action.records,
                idempotency_key=None,
                door=Door.WEBHOOK,
                request_id=request_id,
                source_platform=action.platform,
            )
            accepted = await submit_ingest(self._services, principal, request)
            receipt.job_ids.append(accepted.job.id)


def _may_be_stale(problem: SignatureProblem) -> bool:
    return problem.code == "invalid_webhook_signature"


def _is_woocommerce_ping(request: SignedRequest) -> bool:
    """WooCommerce's unsigned creation ping: `webhook_id=<n>` as a form body, no signature."""
    unsigned = "x-wc-webhook-signature" not in request.headers
    return unsigned and WOOCOMMERCE_PING.fullmatch(request.body.strip()) is not None


def _parse(body: bytes) -> object:
    try:
        value, key = read_document(body)
    except orjson.JSONDecodeError as error:
        message = f"The delivery is signed but its body is not valid JSON: {error}."
        raise GatewayError(
            "malformed_json", message, errors=[FieldError("malformed_json", message, ())]
        ) from None
    if key is not None:
        raise repeated_key_error(key, "The delivery", (), code="duplicate_key")
    return value
