"""The process-wide parts the doors share: settings, database, dispatcher."""

import gc
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.audit.service import AuditLog
from app.db.engine import create_engine, create_session_factory
from app.events.relay import EventRelay, make_relay
from app.jobs.dispatch import Dispatcher, make_dispatcher
from app.ratelimit.service import RateLimiter
from app.rules.loader import default_rules
from app.settings import Settings
from app.tenancy.key_cache import KeyCache
from app.transform.loader import mappings
from app.usage.service import Meter


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    dispatcher: Dispatcher
    audit: AuditLog = field(init=False)
    meter: Meter = field(init=False)
    key_cache: KeyCache = field(init=False)
    events: EventRelay = field(init=False)
    rate_limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.audit = AuditLog(self.sessions, self.settings)
        self.meter = Meter(self.sessions, self.settings.usage_flush_interval_seconds)
        self.key_cache = KeyCache(self.settings.key_cache_seconds)
        self.events = make_relay(self.sessions, self.settings)
        self.rate_limiter = RateLimiter.create(self.settings, self.sessions)

    @classmethod
    def create(cls, settings: Settings) -> "Services":
        engine = create_engine(settings.database_url)
        sessions = create_session_factory(engine)
        return cls(settings, engine, sessions, make_dispatcher(sessions, settings))

    async def start(self) -> None:
        mappings()  # a broken mapping rule file stops start-up, not the first raw ingest
        default_rules()  # so does a broken validation rule file
        tune_garbage_collector()
        await self.dispatcher.start()
        await self.audit.start()
        await self.meter.start()
        await self.events.start()

    async def stop(self) -> None:
        await self.events.stop()
        await self.audit.stop()
        await self.meter.stop()
        await self.dispatcher.stop()
        await self.rate_limiter.close()
        await self.engine.dispose()


def tune_garbage_collector() -> None:
    """Batches of thousands of records make many short-lived objects; the default thresholds
    then run full collections over every long-lived object (the app itself) again and again.
    Freezing start-up objects (and a slightly lazier young generation) keeps the worker fast;
    much larger thresholds were faster still but cost ~100 MB of RSS at 100k records."""
    gc.freeze()
    gc.set_threshold(2_000, 10, 10)
