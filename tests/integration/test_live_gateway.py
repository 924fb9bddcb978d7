"""The live server fixture serves the same app over real HTTP."""

import httpx

from tests.conftest import create_tenant


async def test_a_live_gateway_answers_over_http(live_gateway, services):
    tenant = await create_tenant(services)
    async with httpx.AsyncClient(base_url=live_gateway.url) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        response = await client.post(
            "/graphql", json={"query": "{ viewer { mode } }"}, headers=tenant.headers
        )
    assert response.json() == {"data": {"viewer": {"mode": "TEST"}}}
