"""Realistic payloads and the operations partners run."""

import asyncio
import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from sqlalchemy import event, update

from app.ams.fieldmap import table_maps, value_hash
from app.ams.models import AmsSyncRecord, AmsSyncState, RecordSyncStatus
from app.ams.service import AmsRuntime
from app.asgi import create_app
from app.contracts.entities import Entity
from app.db.models import CanonicalRecord
from app.ids import new_id
from app.jobs.dispatch import InProcessDispatcher
from app.records.service import upsert
from app.records.validation import ValidRecord
from app.services import Services
from app.settings import Settings
from app.tenancy import service as tenancy
from app.tenancy.models import CLIENT_SCOPES, KeyMode, Scope
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import GraphQL, Tenant, make_settings, stop_services

INGEST = {
    "product": ("ingestProducts", "IngestProductsInput"),
    "asset": ("ingestAssets", "IngestAssetsInput"),
    "campaign": ("ingestCampaigns", "IngestCampaignsInput"),
    "audience": ("ingestAudience", "IngestAudienceInput"),
}

JOB_FIELDS = """
  id entity status door attempts failureReason requestId idempotencyKey
  counters { received valid quarantined unchanged stale written held processed }
  errors(first: 500) { nodes { index externalId code message path } }
"""


def ingest_mutation(entity: str) -> str:
    field, input_type = INGEST[entity]
    return f"""mutation Push($input: {input_type}!) {{
      {field}(input: $input) {{ job {{ {JOB_FIELDS} }} replayed errors {{ code message path }} }}
    }}"""


JOB_QUERY = f"query Job($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}"

RECORDS_QUERY = """query Records($entity: Entity!, $ids: [String!], $first: Int!, $after: String) {
  records(entity: $entity, externalIds: $ids, first: $first, after: $after) {
    nodes { externalId sourcePlatform sourceUpdatedAt version data }
    pageInfo { endCursor hasNextPage }
  }
}"""


def shopify_product(
    number: int, updated_at: str = "2026-11-01T10:00:00Z", **overrides: Any
) -> dict[str, Any]:
    """Shaped like a Shopify catalog entry mapped to the standard schema: variants and images."""
    product: dict[str, Any] = {
        "external_id": f"{8072389000 + number}",
        "source_platform": "shopify",
        "source_updated_at": updated_at,
        "source_created_at": "2025-03-14T08:30:00+01:00",
        "name": f"Linen Shirt {number}",
        "sku": f"LS-{number:05d}",
        "description": "Relaxed fit shirt in washed European linen.\n\nMachine wash cold.",
        "status": "active",
        "price": {"amount": "49.90", "currency": "EUR"},
        "compare_at_price": {"amount": "59.90", "currency": "EUR"},
        "vendor": "Nordlinen",
        "categories": ["Apparel", "Shirts"],
        "tags": ["summer", "linen", "bestseller"],
        "url": f"https://shop.example.com/products/linen-shirt-{number}",
        "images": [
            {"url": f"https://cdn.example.com/p/{number}/front.jpg", "alt": "Front", "position": 0},
            {"url": f"https://cdn.example.com/p/{number}/back.jpg", "alt": "Back", "position": 1},
        ],
        "variants": [
            {
                "external_id": f"{44000000 + number * 10 + size}",
                "sku": f"LS-{number:05d}-{label}",
                "name": label,
                "price": {"amount": "49.90", "currency": "EUR"},
                "options": {"size": label, "color": "Sand"},
                "inventory_quantity": 5 + size,
            }
            for size, label in enumerate(["S", "M", "L"])
        ],
        "inventory_quantity": 18,
        "attributes": {"material": "linen", "care": "machine wash", "weight_grams": 240},
    }
    product.update(overrides)
    return product


async def drain(services: Services) -> None:
    """Wait for the in-process workers to finish everything dispatched so far."""
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InProcessDispatcher)
    await dispatcher.join()


@contextmanager
def running_server(app: Any, port: int | None = None) -> Iterator[str]:
    """An ASGI app on a real port (uvicorn in a background thread, lifespan on); yields its URL."""
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def running_gateway(
    settings: Settings, wrap: Callable[[Any], Any] = lambda app: app
) -> Iterator[tuple[str, Settings]]:
    """The gateway on a real port, its settings knowing that port (the AMS reaches the sandbox
    emulators through it); yields the URL and those settings. `wrap` may put ASGI middleware in
    front of the app. (tests/e2e/gateway_process.py starts the `gateway serve` process instead.)"""
    port = free_port()
    served = settings.model_copy(update={"host": "127.0.0.1", "port": port})
    with running_server(wrap(create_app(served)), port) as url:
        yield url, served


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The gateway on a real port with the requests reaching its Airtable emulator recorded


@dataclass
class AirtableRequest:
    method: str
    path: str
    status: int
    body: Any
    at: float  # when it arrived

    @property
    def is_write(self) -> bool:
        return self.method in {"POST", "PATCH", "PUT", "DELETE"} and "/v0/meta/" not in self.path


@dataclass
class AirtableTraffic:
    """ASGI middleware in front of the gateway: records what reaches the Airtable emulator."""

    app: Any
    requests: list[AirtableRequest] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/sandbox/airtable/v0/"):
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        chunks: list[bytes] = []
        status: list[int] = []

        async def receiving() -> Any:
            message = await receive()
            chunks.append(message.get("body", b""))
            return message

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receiving, sending)
        body = b"".join(chunks)
        self.requests.append(
            AirtableRequest(
                scope["method"],
                scope["path"],
                status[0],
                orjson.loads(body) if body else None,
                arrived,
            )
        )

    def writes(self) -> list[AirtableRequest]:
        return [r for r in self.requests if r.is_write]


@dataclass
class Gateway:
    url: str
    settings: Settings
    traffic: AirtableTraffic
    gql: GraphQL


def serve(settings: Settings) -> Iterator[tuple[str, Settings, AirtableTraffic]]:
    """The app behind the traffic recorder, on a real port, in a background thread."""
    recorders: list[AirtableTraffic] = []

    def recorded(app: Any) -> AirtableTraffic:
        recorders.append(AirtableTraffic(app))
        return recorders[0]

    with running_gateway(settings, recorded) as (url, server_settings):
        yield url, server_settings, recorders[0]


@asynccontextmanager
async def served_gateway(settings: Settings, http_timeout: float = 60.0) -> AsyncIterator[Gateway]:
    """`serve` with an HTTP client to drive it: the gateway the AMS tests push to."""
    served = serve(settings)
    url, server_settings, traffic = next(served)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=http_timeout) as client:
            yield Gateway(url, server_settings, traffic, GraphQL(client))
    finally:
        next(served, None)


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 60) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within}s")
        await asyncio.sleep(0.05)


# The scale-out shape in one test: API processes and arq workers sharing PostgreSQL and Redis


@asynccontextmanager
async def arq_settings(
    database_url: str, redis_url: str, **overrides: Any
) -> AsyncIterator[Settings]:
    """Settings with an arq queue of their own (deleted afterwards; job keys expire alone)."""
    from redis.asyncio import Redis

    queue = f"gateway:test:{uuid.uuid4().hex[:8]}"
    try:
        yield make_settings(database_url, redis_url=redis_url, arq_queue_name=queue, **overrides)
    finally:
        redis = Redis.from_url(redis_url)
        await redis.delete(queue, f"{queue}:health-check")
        await redis.aclose()


@asynccontextmanager
async def api_process(settings: Settings) -> AsyncIterator[tuple[Services, GraphQL]]:
    """One API process: its own Services (started and stopped) and a GraphQL client to it."""
    import httpx

    services = Services.create(settings)
    app = create_app(settings, services)
    await services.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield services, GraphQL(client)
    finally:
        await stop_services(services)


async def burst_worker(settings: Settings) -> None:
    """An arq worker that runs what is queued, then stops."""
    from arq.worker import Worker

    from workers.arq_worker import worker_settings

    worker = Worker(**worker_settings(settings, burst=True, poll_delay=0.05))
    try:
        await worker.main()
    finally:
        await worker.close()


async def personal_key(services: Services, tenant: Tenant) -> str:
    """A key of the same client that may read personal data."""
    scopes = [*CLIENT_SCOPES, Scope.PII_READ]
    async with services.sessions() as session, session.begin():
        created = await tenancy.create_key(session, tenant.client_id, KeyMode.TEST, scopes=scopes)
    return created.secret


async def personal_reader(services: Services, tenant: Tenant) -> Tenant:
    """The same client through a key that may read personal data (records answered unmasked)."""
    return dataclasses.replace(tenant, secret=await personal_key(services, tenant))


async def seed_synced(runtime: AmsRuntime, tenant: TenantScope, records: list[ValidRecord]) -> None:
    """A product catalogue as a finished sync leaves it: canonical records (none pending), per
    record its Airtable id (`rec` + its index) and column hashes, and the entity's sync state
    with nothing due. Written directly: writing thousands of rows through the emulator first
    would only slow tests and benchmarks down."""
    table_map = table_maps(runtime.settings.contracts_dir)[Entity.PRODUCT]
    now = datetime.now(UTC)
    scope = {"client_id": tenant.client_id, "livemode": tenant.livemode}
    async with runtime.sessions() as session, session.begin():
        await upsert(session, tenant, Entity.PRODUCT, new_id("job"), records)
        session.add(
            AmsSyncState(
                **scope,
                entity=Entity.PRODUCT.value,
                due_seq=0,
                done_seq=0,
                written=0,
                rejected=0,
                requests=0,
                platforms={},
                updated_at=now,
            )
        )
        session.add_all(
            AmsSyncRecord(
                **scope,
                id=new_id("amsrec"),
                entity=Entity.PRODUCT.value,
                source_platform=record.source_platform,
                external_id=record.external_id,
                airtable_record_id=f"rec{n:014d}",
                content_hash=record.content_hash,
                map_version=table_map.version,
                field_hashes={c: value_hash(v) for c, v in table_map.content(record.data).items()},
                status=RecordSyncStatus.SYNCED.value,
                synced_at=now,
                updated_at=now,
            )
            for n, record in enumerate(records)
        )
        await session.flush()
        await session.execute(  # handled: no longer pending for the sync
            update(CanonicalRecord)
            .where(
                CanonicalRecord.client_id == tenant.client_id,
                CanonicalRecord.livemode == tenant.livemode,
            )
            .values(sync_pending=False)
        )


@contextmanager
def statements_on(services: Services, *tables: str) -> Iterator[list[str]]:
    """The SQL statements sent while inside that name one of `tables`, in order."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if any(table in statement for table in tables):
            seen.append(statement)

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
