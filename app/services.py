"""The process-wide parts the doors share: settings, database, dispatcher."""

import gc
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.audit.service import AuditLog
from app.db.engine import create_engine, create_session_factory
from app.events.relay import EventRelay, make_relay
from app.jobs.dispatch import Dispatcher, make_dispatcher
from app.periodic import Periodic
from app.privacy.resume import erasure_resumer
from app.ratelimit.service import RateLimiter
from app.reconciliation.runner import Reconciler
from app.retention.runner import RetentionPurger
from app.rules.loader import default_rules
from app.settings import Settings
from app.tenancy.key_cache import KeyCache
from app.transform.loader import mappings
from app.usage.service import Meter

if TYPE_CHECKING:
    from app.webhooks.service import WebhookReceiver


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
    if TYPE_CHECKING:  # a plain attribute at run time (not a field): its module imports this one
        webhooks: WebhookReceiver = field(init=False)
    retention: RetentionPurger = field(init=False)
    erasures: Periodic = field(init=False)  # finishes erasure runs whose caller died
    reconciler: Reconciler = field(init=False)

    def __post_init__(self) -> None:
        self.audit = AuditLog(self.sessions, self.settings)
        self.meter = Meter(self.sessions, self.settings.usage_flush_interval_seconds)
        self.key_cache = KeyCache(self.settings.key_cache_seconds)
        self.events = make_relay(self.sessions, self.settings)
        self.rate_limiter = RateLimiter.create(self.settings, self.sessions)
        self.webhooks = _webhook_receiver(self)
        self.retention = RetentionPurger(self.sessions, self.settings)
        self.erasures = erasure_resumer(self)
        self.reconciler = Reconciler(self.sessions, self.settings)

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
        if not self.settings.redis_url:  # scale-out: the arq cron job purges
            await self.retention.start()
            await self.reconciler.start()  # scale-out: the arq cron job audits
        await self.erasures.start()

    async def stop(self) -> None:
        await self.retention.stop()
        await self.erasures.stop()
        await self.reconciler.stop()
        await self.events.stop()
        await self.audit.stop()
        await self.meter.stop()
        await self.dispatcher.stop()
        await self.webhooks.close()
        await self.rate_limiter.close()
        await self.engine.dispose()


def _webhook_receiver(services: Services) -> "WebhookReceiver":
    """The receiver's module builds on Services (ingest, sessions), so it is imported late."""
    from app.webhooks.service import WebhookReceiver

    return WebhookReceiver.create(services)


@cache
def tune_garbage_collector() -> None:
    """Batches of thousands of records make many short-lived objects; the default thresholds
    then run full collections over every long-lived object (the app itself) again and again.
    Freezing start-up objects (and a slightly lazier young generation) keeps the worker fast;
    much larger thresholds were faster still but cost ~100 MB of RSS at 100k records.
    Once per process: frozen objects are never collected, so freezing at every start of a
    process that starts apps again and again (the test suite) kept every earlier app's garbage."""
    gc.freeze()
    gc.set_threshold(2_000, 10, 10)
