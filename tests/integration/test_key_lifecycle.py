"""Roles, scopes and the key lifecycle: operators manage keys, client keys cannot; rotation
overlaps; expiry; operators name the client they act on."""

from datetime import UTC, datetime, timedelta

from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode, Role
from tests.conftest import create_tenant
from tests.helpers import drain, shopify_product

CREATE = """
mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    apiKey { id clientId mode role scopes prefix expiresAt }
    secret
    errors { code message path }
  }
}"""
ROTATE = """
mutation($input: RotateApiKeyInput!) {
  rotateApiKey(input: $input) { apiKey { id } secret errors { code message } }
}"""
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } errors { code } } }"
KEYS = """
query($client: ID, $revoked: Boolean!) {
  apiKeys(clientId: $client, includeRevoked: $revoked) {
    nodes { id prefix role scopes lastUsedAt revokedAt replacedBy }
  }
}"""


async def operator_key(services, scopes=None, mode=KeyMode.TEST) -> str:
    async with services.sessions() as session, session.begin():
        created = await tenancy.create_key(session, None, mode, Role.OPERATOR, scopes)
    return created.secret


async def test_operators_issue_list_and_revoke_client_keys(gql, services, tenant):
    operator = await operator_key(services)
    created = await gql(
        CREATE,
        {"input": {"clientId": tenant.client_id, "mode": "LIVE", "scopes": ["read"]}},
        key=operator,
    )
    issued = created["createApiKey"]
    assert issued["errors"] == []
    assert issued["apiKey"]["role"] == "CLIENT"
    assert issued["apiKey"]["scopes"] == ["read"]
    assert issued["secret"].startswith("gw_live_")
    assert (await gql("{ viewer { mode } }", key=issued["secret"]))["viewer"]["mode"] == "LIVE"

    listed = await gql(KEYS, {"client": tenant.client_id, "revoked": False}, key=operator)
    prefixes = [node["prefix"] for node in listed["apiKeys"]["nodes"]]
    assert issued["apiKey"]["prefix"] in prefixes and len(prefixes) == 2
    assert all("secret" not in str(node) for node in listed["apiKeys"]["nodes"])

    revoked = await gql(REVOKE, {"id": issued["apiKey"]["id"]}, key=operator)
    assert revoked["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    refused = await gql.raw("{ viewer { mode } }", key=issued["secret"])
    assert refused.status_code == 401


async def test_client_keys_cannot_manage_keys_or_read_the_audit_log(gql, tenant):
    for operation, variables in (
        (CREATE, {"input": {"clientId": tenant.client_id, "mode": "TEST"}}),
        (KEYS, {"client": tenant.client_id, "revoked": False}),
        ("{ auditEvents { nodes { id } } }", None),
    ):
        response = await gql.raw(operation, variables, key=tenant.secret)
        assert response.status_code == 403
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "operator_only"
        assert body.get("data") is None or "secret" not in str(body["data"])


async def test_a_key_without_the_scope_is_refused_with_403(gql, services, api, tenant):
    async with services.sessions() as session, session.begin():
        reader = await tenancy.create_key(session, tenant.client_id, KeyMode.TEST, scopes=["read"])
    allowed = await gql("{ jobs { nodes { id } } }", key=reader.secret)
    assert allowed["jobs"]["nodes"] == []
    response = await api.post(
        "/ingest/products",
        json={"records": []},
        headers={"Authorization": f"Bearer {reader.secret}"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert "'ingest' scope" in response.json()["error"]["message"]


async def test_unknown_scopes_and_naive_or_past_expiry_are_field_errors(gql, services, tenant):
    operator = await operator_key(services)
    cases = [
        ({"scopes": ["keys"]}, "invalid_scopes"),
        ({"scopes": ["read", "everything"]}, "invalid_scopes"),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, "invalid_expiry"),
        ({"expiresAt": "2030-01-01T00:00:00"}, "invalid_datetime"),
    ]
    for extra, code in cases:
        answer = await gql(
            CREATE,
            {"input": {"clientId": tenant.client_id, "mode": "TEST", **extra}},
            key=operator,
        )
        assert answer["createApiKey"]["errors"][0]["code"] == code, extra
        assert answer["createApiKey"]["secret"] is None


async def test_rotation_keeps_the_old_key_working_until_the_overlap_ends(gql, services, tenant):
    operator = await operator_key(services)
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    rotated = await gql(
        ROTATE, {"input": {"id": tenant.key_id, "previousKeyValidUntil": until}}, key=operator
    )
    new_secret = rotated["rotateApiKey"]["secret"]
    assert (await gql("{ viewer { mode } }", key=tenant.secret))["viewer"]["mode"] == "TEST"
    assert (await gql("{ viewer { mode } }", key=new_secret))["viewer"]["mode"] == "TEST"

    listed = await gql(KEYS, {"client": tenant.client_id, "revoked": False}, key=operator)
    old = next(node for node in listed["apiKeys"]["nodes"] if node["id"] == tenant.key_id)
    assert old["replacedBy"] == rotated["rotateApiKey"]["apiKey"]["id"]

    async with services.sessions() as session, session.begin():
        key = await tenancy.get_key(session, tenant.key_id)
        key.revoked_at = datetime.now(UTC) - timedelta(seconds=1)  # the overlap has ended
    ended = await gql.raw("{ viewer { mode } }", key=tenant.secret)
    assert ended.status_code == 401
    too_long = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    refused = await gql(
        ROTATE,
        {
            "input": {
                "id": rotated["rotateApiKey"]["apiKey"]["id"],
                "previousKeyValidUntil": too_long,
            }
        },
        key=operator,
    )
    assert refused["rotateApiKey"]["errors"][0]["code"] == "invalid_overlap"


async def test_expired_keys_get_401(gql, services, tenant):
    async with services.sessions() as session, session.begin():
        soon = datetime.now(UTC) + timedelta(seconds=30)
        created = await tenancy.create_key(session, tenant.client_id, KeyMode.TEST, expires_at=soon)
        key = await tenancy.get_key(session, created.key.id)
        key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    response = await gql.raw("{ viewer { mode } }", key=created.secret)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API key has expired."


async def test_operators_act_on_the_client_they_name(api, services, tenant):
    operator = await operator_key(services)
    other = await create_tenant(services, "Other")
    headers = {"Authorization": f"Bearer {operator}"}
    unnamed = await api.get("/jobs", headers=headers)
    assert unnamed.status_code == 400
    assert unnamed.json()["error"]["code"] == "client_required"

    pushed = await api.post(
        "/ingest/products",
        json={"records": [shopify_product(1)]},
        headers={**headers, "Gateway-Client": tenant.client_id},
    )
    assert pushed.status_code == 202, pushed.text
    owned = await api.get("/jobs", headers=tenant.headers)
    assert [job["id"] for job in owned.json()["data"]] == [pushed.json()["id"]]
    seen = await api.get("/jobs", headers={**headers, "Gateway-Client": other.client_id})
    assert seen.status_code == 200 and seen.json()["data"] == []
    await drain(services)
    missing = await api.get("/jobs", headers={**headers, "Gateway-Client": "cli_nope"})
    assert missing.status_code == 404

    impostor = await api.get("/jobs", headers={**tenant.headers, "Gateway-Client": other.client_id})
    assert impostor.status_code == 403
    assert impostor.json()["error"]["code"] == "client_mismatch"


async def test_a_revocation_is_seen_by_every_process_within_a_second(settings, tenant):
    """Each process trusts a verified key for GATEWAY_KEY_CACHE_SECONDS (1 s): the process that
    revokes forgets the key at once, another process within that second."""
    import asyncio
    import time

    import httpx

    from app.asgi import create_app
    from app.services import Services

    cached = settings.model_copy(update={"key_cache_seconds": 1.0})
    first, second = Services.create(cached), Services.create(cached)
    await first.start()
    await second.start()
    query = {"query": "{ viewer { mode } }"}
    try:
        one = httpx.ASGITransport(app=create_app(cached, first))
        two = httpx.ASGITransport(app=create_app(cached, second))
        async with (
            httpx.AsyncClient(transport=one, base_url="http://first") as revoker,
            httpx.AsyncClient(transport=two, base_url="http://second") as other,
        ):
            for client in (revoker, other):
                assert (
                    await client.post("/graphql", json=query, headers=tenant.headers)
                ).is_success
            operator = await operator_key(first)
            revoke = {"query": REVOKE, "variables": {"id": tenant.key_id}}
            done = await revoker.post(
                "/graphql", json=revoke, headers={"Authorization": f"Bearer {operator}"}
            )
            assert done.json()["data"]["revokeApiKey"]["errors"] == []
            revoked_at = time.monotonic()
            at_once = await revoker.post("/graphql", json=query, headers=tenant.headers)
            assert at_once.status_code == 401
            # The other process cached the key before the revocation: once the cache time has
            # passed since then, its next request reads the key again (however slow it is).
            await asyncio.sleep(revoked_at + cached.key_cache_seconds - time.monotonic() + 0.05)
            after = await other.post("/graphql", json=query, headers=tenant.headers)
            assert after.status_code == 401, "still accepted after the cache time"
    finally:
        await first.stop()
        await second.stop()


async def test_an_address_that_keeps_failing_authentication_is_refused_for_a_while(
    gql, api, services, tenant
):
    """After its failed-authentication budget is spent, an address gets 429 even for a valid
    key, so guessing keys from one address stops paying off; other addresses are unaffected."""
    budget = services.settings.auth_failure_burst
    wrong = "gw_test_000000000000_" + "9" * 48
    for _ in range(budget):
        refused = await gql.raw("{ viewer { mode } }", key=wrong)
        assert refused.status_code == 401
    blocked = await gql.raw("{ viewer { mode } }", key=wrong)
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "too_many_failed_authentications"
    assert int(blocked.headers["retry-after"]) >= 1
    valid_but_blocked = await api.get("/jobs", headers=tenant.headers)
    assert valid_but_blocked.status_code == 429
    assert services.rate_limiter.failed_authentication_block("10.1.2.3") == 0
