"""Which deliveries were already acted on, for the dedupe window: Redis `SET NX EX` when Redis is
configured (every API process sees the same keys), a database table otherwise.

A claim is taken before the event is acted on and released if acting fails, so the platform's
retry is processed rather than mistaken for a duplicate. Claims made at the same time go
together: one script call (Redis) or one statement (database) for all of them."""

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.coalescing import Coalescer
from app.webhooks.models import WebhookConnection, WebhookDelivery

PURGE_INTERVAL_SECONDS = 600.0
CLAIMS_PER_ROUND_TRIP = 500
Claim = tuple[WebhookConnection, str]  # the connection and the delivery key


def delivery_key(delivery_id: str) -> str:
    return hashlib.sha256(delivery_id.encode()).hexdigest()


def _dialect_insert(session: AsyncSession) -> Any:
    """INSERT … ON CONFLICT is spelled per dialect in SQLAlchemy; both backends support it."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


class DeliveryLedger(Protocol):
    async def claim(self, connection: WebhookConnection, delivery_id: str) -> bool:
        """True the first time this connection presents this id within the window."""
        ...

    async def release(self, connection: WebhookConnection, delivery_id: str) -> None: ...

    async def close(self) -> None: ...


# SET NX EX for each key in turn: 1 where the key was new (claimed), 0 where it was there. One
# script call instead of a pipeline of SETs: the client encodes one argument per claim, not six.
_CLAIM_EACH = """
local claimed = {}
for i, key in ipairs(KEYS) do
  claimed[i] = redis.call('SET', key, '1', 'NX', 'EX', ARGV[1]) and 1 or 0
end
return claimed
"""


class RedisLedger:
    def __init__(self, redis_url: str, window_seconds: int) -> None:
        self._redis = Redis.from_url(redis_url)
        self._script = self._redis.register_script(_CLAIM_EACH)
        self._window = window_seconds
        self._claims = Coalescer(self._claim_all, CLAIMS_PER_ROUND_TRIP)

    @staticmethod
    def _key(connection: WebhookConnection, delivery_id: str) -> str:
        return f"gateway:webhooks:seen:{connection.id}:{delivery_key(delivery_id)}"

    async def claim(self, connection: WebhookConnection, delivery_id: str) -> bool:
        return await self._claims((connection, delivery_id))

    async def _claim_all(self, claims: list[Claim]) -> list[bool]:
        keys = [self._key(connection, delivery_id) for connection, delivery_id in claims]
        claimed = await self._script(keys=keys, args=[self._window])
        return [bool(answer) for answer in claimed]

    async def release(self, connection: WebhookConnection, delivery_id: str) -> None:
        await self._redis.delete(self._key(connection, delivery_id))

    async def close(self) -> None:
        await self._redis.aclose()


class DatabaseLedger:
    """One statement per batch of claims: insert each (connection, delivery key) row, or take
    over a row whose window has ended; a live row means the delivery was seen. Expired rows are
    purged now and then."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], window_seconds: int) -> None:
        self._sessions = sessions
        self._window = timedelta(seconds=window_seconds)
        self._next_purge = 0.0
        self._claims = Coalescer(self._claim_all, CLAIMS_PER_ROUND_TRIP)

    async def claim(self, connection: WebhookConnection, delivery_id: str) -> bool:
        return await self._claims((connection, delivery_id))

    async def _claim_all(self, claims: list[Claim]) -> list[bool]:
        now = datetime.now(UTC)
        await self._purge_if_due(now)
        rows = {
            (connection.id, delivery_key(delivery_id)): {
                "connection_id": connection.id,
                "delivery_key": delivery_key(delivery_id),
                "client_id": connection.client_id,
                "livemode": connection.livemode,
                "expires_at": now + self._window,
            }
            for connection, delivery_id in claims
        }
        async with self._sessions() as session, session.begin():
            insert = _dialect_insert(session)(WebhookDelivery).values(list(rows.values()))
            taken = await session.execute(
                insert.on_conflict_do_update(
                    index_elements=[WebhookDelivery.connection_id, WebhookDelivery.delivery_key],
                    set_={"expires_at": insert.excluded.expires_at},
                    where=WebhookDelivery.expires_at <= now,
                ).returning(WebhookDelivery.connection_id, WebhookDelivery.delivery_key)
            )
            claimed = {(row.connection_id, row.delivery_key) for row in taken}
        answers = []
        for connection, delivery_id in claims:  # a repeat within the batch is a duplicate
            key = (connection.id, delivery_key(delivery_id))
            answers.append(key in claimed)
            claimed.discard(key)
        return answers

    async def release(self, connection: WebhookConnection, delivery_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.connection_id == connection.id,
                    WebhookDelivery.delivery_key == delivery_key(delivery_id),
                )
            )

    async def _purge_if_due(self, now: datetime) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
        async with self._sessions() as session, session.begin():
            await session.execute(delete(WebhookDelivery).where(WebhookDelivery.expires_at <= now))

    async def close(self) -> None:
        return None
