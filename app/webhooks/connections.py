"""Webhook connections: a client's secret per platform, set and rotated through the API, stored
encrypted, never returned. Each connection has its own URL to configure on the platform."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.fields import SourcePlatform
from app.encryption import decrypt, encrypt
from app.errors import FieldError, GatewayError
from app.ids import new_id
from app.settings import Settings
from app.tenancy.models import Tenant
from app.webhooks.models import WebhookConnection
from app.webhooks.signatures import SCHEMES, Scheme, standard_secret_bytes

MIN_SECRET_LENGTH = 8
MAX_SECRET_LENGTH = 512
MAX_OVERLAP = timedelta(days=30)
STANDARD_KEY_BYTES = (24, 64)


@dataclass(frozen=True)
class SecretChange:
    platform: SourcePlatform
    secret: str
    previous_secret_valid_until: datetime | None = None


def public_base_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def webhook_url(settings: Settings, connection: WebhookConnection) -> str:
    return f"{public_base_url(settings)}/webhooks/{connection.platform}/{connection.id}"


def _secret_problems(change: SecretChange) -> list[FieldError]:
    secret = change.secret
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        message = f"secret must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters."
        return [FieldError("invalid_secret", message, ("secret",))]
    if SCHEMES[change.platform] is Scheme.STANDARD_WEBHOOKS:
        key = standard_secret_bytes(secret)
        low, high = STANDARD_KEY_BYTES
        if key is None or not low <= len(key) <= high:
            message = (
                f"{change.platform.value} events are verified per Standard Webhooks: the secret "
                f"must be 'whsec_' followed by base64 of {low} to {high} random bytes."
            )
            return [FieldError("invalid_secret", message, ("secret",))]
    return []


def _overlap_problems(
    change: SecretChange, existing: WebhookConnection | None, now: datetime
) -> list[FieldError]:
    until = change.previous_secret_valid_until
    path = ("previousSecretValidUntil",)
    if until is None:
        return []
    if existing is None:
        message = "There is no current secret to keep: leave previousSecretValidUntil out."
        return [FieldError("no_previous_secret", message, path)]
    if until.tzinfo is None:
        return [FieldError("invalid_datetime", "Give a time zone (e.g. ...Z).", path)]
    if not now < until <= now + MAX_OVERLAP:
        days = MAX_OVERLAP.days
        message = f"previousSecretValidUntil must be in the future and at most {days} days away."
        return [FieldError("invalid_overlap", message, path)]
    return []


async def find_connection(
    session: AsyncSession, tenant: Tenant, platform: SourcePlatform
) -> WebhookConnection | None:
    return await session.scalar(
        select(WebhookConnection).where(
            WebhookConnection.client_id == tenant.client_id,
            WebhookConnection.livemode == tenant.livemode,
            WebhookConnection.platform == platform.value,
        )
    )


async def set_secret(
    session: AsyncSession, settings: Settings, tenant: Tenant, change: SecretChange
) -> WebhookConnection:
    """Create the tenant's connection for the platform, or replace its secret. With
    previous_secret_valid_until, the secret being replaced keeps verifying until then."""
    now = datetime.now(UTC)
    existing = await find_connection(session, tenant, change.platform)
    problems = _secret_problems(change) + _overlap_problems(change, existing, now)
    if problems:
        raise GatewayError("invalid_webhook_secret", problems[0].message, errors=problems)
    sealed = encrypt(settings, change.secret)
    if existing is None:
        connection = WebhookConnection(
            id=new_id("whc"),
            client_id=tenant.client_id,
            livemode=tenant.livemode,
            platform=change.platform.value,
            secret_encrypted=sealed,
            rejected_deliveries=0,
            created_at=now,
            updated_at=now,
        )
        session.add(connection)
    else:
        connection = existing
        keep = change.previous_secret_valid_until is not None
        connection.previous_secret_encrypted = connection.secret_encrypted if keep else None
        connection.previous_valid_until = change.previous_secret_valid_until if keep else None
        connection.secret_encrypted = sealed
        connection.updated_at = now
    await session.flush()
    return connection


def verifying_secrets(
    settings: Settings, connection: WebhookConnection, now: datetime
) -> tuple[str, ...]:
    """The current secret, and the previous one while its overlap lasts."""
    secrets = [decrypt(settings, connection.secret_encrypted)]
    until = connection.previous_valid_until
    if connection.previous_secret_encrypted and until is not None and now < until:
        secrets.append(decrypt(settings, connection.previous_secret_encrypted))
    return tuple(secrets)


async def list_connections(session: AsyncSession, tenant: Tenant) -> list[WebhookConnection]:
    return list(
        await session.scalars(
            select(WebhookConnection)
            .where(
                WebhookConnection.client_id == tenant.client_id,
                WebhookConnection.livemode == tenant.livemode,
            )
            .order_by(WebhookConnection.platform)
        )
    )


async def count_rejection(session: AsyncSession, connection_id: str, code: str) -> None:
    await session.execute(
        update(WebhookConnection)
        .where(WebhookConnection.id == connection_id)
        .values(
            rejected_deliveries=WebhookConnection.rejected_deliveries + 1,
            last_rejected_at=datetime.now(UTC),
            last_rejection_code=code,
        )
    )
