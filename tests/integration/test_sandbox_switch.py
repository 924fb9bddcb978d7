"""The GraphQL explorer is a sandbox feature: served only when the sandbox is on."""

import httpx

from app.asgi import create_app
from app.services import Services
from tests.conftest import make_settings


async def _explorer_status(database_url: str, sandbox_enabled: bool) -> int:
    settings = make_settings(database_url, sandbox_enabled=sandbox_enabled)
    services = Services.create(settings)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        response = await client.get("/graphql", headers={"Accept": "text/html"})
    await services.engine.dispose()
    if response.status_code == 200:
        assert "GraphQL explorer" in response.text
    return response.status_code


async def test_the_explorer_is_served_only_in_the_sandbox(database_url):
    assert await _explorer_status(database_url, sandbox_enabled=True) == 200
    assert await _explorer_status(database_url, sandbox_enabled=False) != 200
