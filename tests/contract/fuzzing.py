"""The served gateway both fuzz suites (REST and GraphQL) aim at."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from app.db.engine import create_engine
from app.db.migrate import upgrade_to_head
from app.services import Services
from tests.conftest import Tenant, create_tenant, make_settings, run_in_thread
from tests.helpers import running_gateway


class Fuzzed:
    def __init__(self, url: str, tenant: Tenant) -> None:
        self.url = url
        self.tenant = tenant
        self.session = requests.Session()


@contextmanager
def fuzzed_gateway(folder: Path) -> Iterator[Fuzzed]:
    """One gateway on embedded SQLite, with a test key whose bucket never runs dry (429 is
    documented and would hide what the handlers answer)."""
    url = f"sqlite+aiosqlite:///{folder / 'gateway.db'}"
    gateway_settings = make_settings(
        url, sandbox_blob_dir=folder / "blobs", rate_limit_burst=100_000, auth_failure_burst=100_000
    )

    async def prepare() -> Tenant:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        services = Services.create(gateway_settings)
        try:
            return await create_tenant(services, "Fuzz")
        finally:
            await services.engine.dispose()

    tenant = run_in_thread(prepare())
    with running_gateway(gateway_settings) as (base_url, _):
        fuzzed = Fuzzed(base_url, tenant)
        yield fuzzed
        fuzzed.session.close()
