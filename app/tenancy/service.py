"""Clients and API keys: create, revoke, authenticate."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import available_timezones

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, Client
from app.errors import AuthenticationError, FieldError, GatewayError, NotFoundError
from app.ids import new_id
from app.tenancy.keys import display_prefix, generate_key, hashes_match, parse_key
from app.tenancy.models import KeyMode, Principal
from app.transform.errors import NormalisationError
from app.transform.normalise.countries import normalise_country
from app.transform.normalise.currencies import normalise_currency

LAST_USED_RESOLUTION = timedelta(minutes=1)


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


async def create_key(session: AsyncSession, client_id: str, mode: KeyMode) -> CreatedKey:
    await get_client(session, client_id)
    secret, parsed = generate_key(mode)
    key = ApiKey(
        id=new_id("key"),
        client_id=client_id,
        mode=mode.value,
        lookup_id=parsed.lookup_id,
        secret_hash=parsed.secret_hash,
        prefix=display_prefix(parsed),
        created_at=datetime.now(UTC),
    )
    session.add(key)
    await session.flush()
    return CreatedKey(key=key, secret=secret)


async def revoke_key(session: AsyncSession, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError("API key")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        await session.flush()
    return key


async def authenticate(session: AsyncSession, secret: str) -> tuple[Principal, bool]:
    """Resolve a presented key to its principal, or raise one error that reveals nothing.
    Also says whether the key's last-used time is due for a refresh (see record_key_use)."""
    parsed = parse_key(secret)
    if parsed is None:
        raise AuthenticationError(
            "The API key is malformed: expected gw_test_… or gw_live_… as issued by the gateway."
        )
    key = await session.scalar(select(ApiKey).where(ApiKey.lookup_id == parsed.lookup_id))
    matched = hashes_match(key.secret_hash if key else None, parsed.secret_hash)
    if key is None or not matched or key.revoked_at is not None:
        raise AuthenticationError("The API key is not valid: it is unknown or has been revoked.")
    principal = Principal(key_id=key.id, client_id=key.client_id, mode=KeyMode(key.mode))
    last = key.last_used_at
    return principal, last is None or datetime.now(UTC) - last > LAST_USED_RESOLUTION


async def record_key_use(session: AsyncSession, key_id: str) -> None:
    await session.execute(
        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=datetime.now(UTC))
    )


async def get_key(session: AsyncSession, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError("API key")
    return key


async def rotate_key(session: AsyncSession, key_id: str) -> CreatedKey:
    """A new key for the same client and mode; the old one is revoked at once."""
    old = await get_key(session, key_id)
    if old.revoked_at is not None:
        raise GatewayError("key_revoked", "That key is already revoked; create a new one.")
    created = await create_key(session, old.client_id, KeyMode(old.mode))
    await revoke_key(session, key_id)
    return created


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
