"""Shared fixtures: a database per backend (SQLite always; PostgreSQL when configured), the app
with its lifespan, and helpers that speak GraphQL like a partner would."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from app.asgi import create_app
from app.db.engine import create_engine
from app.db.metadata import Base
from app.db.migrate import upgrade_to_head
from app.services import Services
from app.settings import Settings
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")
T = TypeVar("T")
REQUIRE_SERVICES = os.environ.get("GATEWAY_TEST_REQUIRE_SERVICES") == "1"


def require_service(url: str | None, name: str) -> str:
    """Skip locally when a service is not configured; fail in CI, where it is required."""
    if url:
        return url
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (GATEWAY_TEST_REQUIRE_SERVICES=1) but not configured")
    pytest.skip(f"{name} not configured (set GATEWAY_TEST_{name.upper()}_URL)")


def run_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion even when called under a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def _admin_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway database on the real server, migrated once per test session."""
    base_url = require_service(POSTGRES_URL, "postgres")
    name = f"gw_test_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        connection = await asyncpg.connect(_admin_dsn(base_url))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        engine = create_engine(_with_database(base_url, name))
        await upgrade_to_head(engine)
        await engine.dispose()

    async def drop() -> None:
        connection = await asyncpg.connect(_admin_dsn(base_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    run_in_thread(create())
    yield _with_database(base_url, name)
    run_in_thread(drop())


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


async def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        return url
    url = str(request.getfixturevalue("postgres_database"))
    await _truncate_all(url)
    return url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": None,
        "log_level": "WARNING",
        "sweeper_interval_seconds": 0.2,
        "job_redispatch_after_seconds": 0.5,
        "job_lease_seconds": 5,
        "job_chunk_size": 250,
        "key_cache_seconds": 0.0,  # tests revoke keys in the database and expect it at once
    }
    if not database_url.startswith("sqlite"):
        values["secret_key"] = "scale-out-tests-secret"  # SQLite gets its own <db>.secret file
    return Settings(**(values | overrides))


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return make_settings(database_url, sandbox_blob_dir=tmp_path / "blobs")


@pytest.fixture
def fast_sandbox_settings(database_url: str, tmp_path: Any) -> Settings:
    """For tests that drive the AMS through the sandbox: no rate-limit waits, a fixed secret."""
    return make_settings(
        database_url,
        sandbox_airtable_requests_per_second=1000.0,
        sandbox_blob_dir=tmp_path / "blobs",
        secret_key="test-secret-key",
    )


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    services = Services.create(settings)
    yield services
    await services.engine.dispose()


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the test's own event loop (so tests can wait on its in-process workers)."""
    app = create_app(services.settings, services)
    await services.start()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client
    finally:
        await stop_services(services)


STOP_PATIENCE_SECONDS = 120.0  # a stop takes well under a second; this is a hang, not a slow stop


async def stop_services(services: Services) -> None:
    """services.stop(), or a failed test naming what every asyncio task awaits if it hangs:
    faulthandler's dump of a hung event loop shows nothing but its select()."""
    stopping = asyncio.ensure_future(services.stop())
    done, _ = await asyncio.wait({stopping}, timeout=STOP_PATIENCE_SECONDS)
    if not done:
        stopping.cancel()
        tasks = "\n".join(_awaiting(task) for task in asyncio.all_tasks())
        pytest.fail(f"services.stop() hung for {STOP_PATIENCE_SECONDS:g} s. Tasks:\n{tasks}")
    stopping.result()


def _awaiting(task: "asyncio.Task[Any]") -> str:
    """The task's chain of awaits, outermost first (Task.print_stack shows the outermost only)."""
    lines = [repr(task)]
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:  # a future: the task's repr names it (wait_for=…)
            break
        code = frame.f_code
        lines.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_qualname}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "\n".join(lines)


@dataclass
class Tenant:
    client_id: str
    key_id: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


async def create_tenant(services: Services, name: str = "Acme", mode: str = "test") -> Tenant:
    async with services.sessions() as session, session.begin():
        client = await tenancy.create_client(session, name)
        created = await tenancy.create_key(session, client.id, KeyMode(mode))
    return Tenant(client.id, created.key.id, created.secret)


@pytest.fixture
async def tenant(services: Services) -> Tenant:
    return await create_tenant(services)


class GraphQL:
    """Sends operations the way a partner does: POST /graphql with a bearer key."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        response = await self.raw(query, variables, key)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body["errors"]
        return dict(body["data"])


@pytest.fixture
def gql(api: httpx.AsyncClient) -> GraphQL:
    return GraphQL(api)


@dataclass
class LiveGateway:
    """A real HTTP server (uvicorn) running the app in a background thread, for clients that
    speak plain HTTP themselves (pyairtable, google-api-python-client, browsers)."""

    url: str
    settings: Settings


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_gateway(settings: Settings) -> Iterator[LiveGateway]:
    import threading
    import time

    import uvicorn

    port = _free_port()
    server_settings = settings.model_copy(update={"host": "127.0.0.1", "port": port})
    config = uvicorn.Config(
        create_app(server_settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live gateway did not start")
        time.sleep(0.02)
    yield LiveGateway(url=f"http://127.0.0.1:{port}", settings=server_settings)
    server.should_exit = True
    thread.join(timeout=20)
