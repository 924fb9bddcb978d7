"""Clients and API keys: create, revoke, authenticate."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import available_timezones

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, Client
from app.errors import AuthenticationError, FieldError, GatewayError, NotFoundError
from app.ids import new_id
from app.pagination import Page, newest_first
from app.tenancy.keys import display_prefix, generate_key, hashes_match, parse_key
from app.tenancy.models import CLIENT_SCOPES, OPERATOR_SCOPES, KeyMode, Principal, Role, Scope
from app.transform.errors import NormalisationError
from app.transform.normalise.countries import normalise_country
from app.transform.normalise.currencies import normalise_currency

LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ROTATION_OVERLAP = timedelta(days=30)


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str


async def create_client(session: AsyncSession, name: str) -> Client:
    name = name.strip()
    if not name or len(name) > 200:
        raise GatewayError("invalid_name", "A client name is 1 to 200 characters.")
    client = Client(id=new_id("cli"), name=name, created_at=datetime.now(UTC))
    session.add(client)
    await session.flush()
    return client


async def get_client(session: AsyncSession, client_id: str) -> Client:
    client = await session.get(Client, client_id)
    if client is None:
        raise NotFoundError("client")
    return client


async def create_key(
    session: AsyncSession,
    client_id: str | None,
    mode: KeyMode,
    role: Role = Role.CLIENT,
    scopes: Iterable[str] | None = None,
    expires_at: datetime | None = None,
    description: str | None = None,
) -> CreatedKey:
    """A client key (client_id set) or an operator key (client_id None, role OPERATOR)."""
    if (client_id is None) != (role is Role.OPERATOR):
        raise GatewayError("invalid_key_role", "Client keys name a client; operator keys don't.")
    if client_id is not None:
        await get_client(session, client_id)
    granted = _checked_scopes(role, scopes)
    expires_at = _checked_time(expires_at, "expiresAt")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise GatewayError("invalid_expiry", "A key's expiry must be in the future.")
    secret, parsed = generate_key(mode)
    key = ApiKey(
        id=new_id("key"),
        client_id=client_id,
        mode=mode.value,
        role=role.value,
        scopes=sorted(granted),
        description=description,
        lookup_id=parsed.lookup_id,
        secret_hash=parsed.secret_hash,
        prefix=display_prefix(parsed),
        created_at=datetime.now(UTC),
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    return CreatedKey(key=key, secret=secret)


def _checked_scopes(role: Role, scopes: Iterable[str] | None) -> frozenset[str]:
    allowed = OPERATOR_SCOPES if role is Role.OPERATOR else CLIENT_SCOPES | {Scope.PII_READ}
    if scopes is None:
        return OPERATOR_SCOPES if role is Role.OPERATOR else CLIENT_SCOPES
    requested = frozenset(scopes)
    unknown = sorted(requested - allowed)
    if unknown or not requested:
        raise GatewayError(
            "invalid_scopes",
            f"Scopes for a {role.value} key are some of: {', '.join(sorted(allowed))}"
            + (f" (not {', '.join(unknown)})." if unknown else "."),
        )
    return requested


async def revoke_key(session: AsyncSession, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError("API key")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        await session.flush()
    return key


async def authenticate(session: AsyncSession, secret: str) -> tuple[Principal, bool]:
    """Resolve a presented key to its principal, or raise one error that reveals nothing to a
    caller without the secret. Also says whether the key's last-used time is due for a refresh
    (see record_key_use)."""
    parsed = parse_key(secret)
    if parsed is None:
        raise AuthenticationError(
            "The API key is malformed: expected gw_test_… or gw_live_… as issued by the gateway."
        )
    key = await session.scalar(select(ApiKey).where(ApiKey.lookup_id == parsed.lookup_id))
    matched = hashes_match(key.secret_hash if key else None, parsed.secret_hash)
    if key is None or not matched:
        raise AuthenticationError("The API key is not valid: it is unknown or has been revoked.")
    now = datetime.now(UTC)
    if key.revoked_at is not None and key.revoked_at <= now:
        raise AuthenticationError("The API key has been revoked.")
    if key.expires_at is not None and key.expires_at <= now:
        raise AuthenticationError("The API key has expired.")
    principal = Principal(
        key_id=key.id,
        client_id=key.client_id,
        mode=KeyMode(key.mode),
        role=Role(key.role),
        scopes=frozenset(key.scopes),
    )
    last = key.last_used_at
    return principal, last is None or now - last > LAST_USED_RESOLUTION


async def record_key_use(session: AsyncSession, key_id: str) -> None:
    await session.execute(
        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=datetime.now(UTC))
    )


async def get_key(session: AsyncSession, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError("API key")
    return key


async def rotate_key(
    session: AsyncSession, key_id: str, previous_valid_until: datetime | None = None
) -> CreatedKey:
    """A new key with the same client, mode, role and scopes. The old one keeps working until
    `previous_valid_until` (so deployments can switch without downtime), or stops now."""
    now = datetime.now(UTC)
    until = _checked_time(previous_valid_until, "previousKeyValidUntil") or now
    if not now <= until <= now + MAX_ROTATION_OVERLAP:
        raise GatewayError(
            "invalid_overlap",
            f"The old key may keep working for 0 to {MAX_ROTATION_OVERLAP.days} days.",
        )
    old = await get_key(session, key_id)
    if old.revoked_at is not None and old.revoked_at <= now:
        raise GatewayError("key_revoked", "That key is already revoked; create a new one.")
    created = await create_key(
        session,
        old.client_id,
        KeyMode(old.mode),
        Role(old.role),
        old.scopes,
        old.expires_at if old.expires_at and old.expires_at > now else None,
        old.description,
    )
    old.revoked_at = until
    old.replaced_by = created.key.id
    await session.flush()
    return created


def _checked_time(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise GatewayError(
            "invalid_datetime",
            f"{name} needs a UTC offset, e.g. 2026-12-01T00:00:00Z.",
            errors=[FieldError("invalid_datetime", "A UTC offset is required.", (name,))],
        )
    return value


async def list_keys(
    session: AsyncSession,
    client_id: str | None,
    first: int,
    after: str | None,
    include_revoked: bool = False,
) -> Page[ApiKey]:
    """Keys of one client, or operator keys when client_id is None; newest first."""
    owner = ApiKey.client_id.is_(None) if client_id is None else ApiKey.client_id == client_id
    query = select(ApiKey).where(owner)
    if not include_revoked:
        now = datetime.now(UTC)
        query = query.where(or_(ApiKey.revoked_at.is_(None), ApiKey.revoked_at > now))
    return await newest_first(session, query, ApiKey.id, first, after)


async def configure_client(
    session: AsyncSession,
    client_id: str,
    currency: str | None = None,
    region: str | None = None,
    timezone: str | None = None,
) -> Client:
    """Set the defaults that fill what platforms leave out of raw records; None keeps a value."""
    client = await get_client(session, client_id)
    errors = []
    if currency is not None:
        try:
            client.default_currency = normalise_currency(currency)
        except NormalisationError as error:
            errors.append(error.field_error(("currency",)))
    if region is not None:
        try:
            client.default_region = normalise_country(region)
        except NormalisationError as error:
            errors.append(error.field_error(("region",)))
    if timezone is not None:
        if timezone not in available_timezones():
            errors.append(
                FieldError(
                    "invalid_timezone", f"Unknown IANA time zone {timezone!r}.", ("timezone",)
                )
            )
        else:
            client.timezone = timezone
    if errors:
        raise GatewayError("invalid_client_defaults", errors[0].message, errors=errors)
    await session.flush()
    return client
