"""The audit log: every mutation, REST write, auth failure and key change leaves a row operators
can query; rows never hold secrets; old rows are purged."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.audit import service as audit
from app.audit.models import AuditEvent
from tests.helpers import drain, ingest_mutation, shopify_product
from tests.integration.test_key_lifecycle import operator_key

EVENTS = """
query($filter: AuditEventFilter) {
  auditEvents(filter: $filter, first: 50) {
    nodes { operation result actorRole actorKeyId clientId livemode targetIds sourceIp requestId }
  }
}"""


async def _flushed(services):
    await services.audit.flush()


async def test_mutations_rest_writes_and_auth_failures_are_audited(gql, api, services, tenant):
    operator = await operator_key(services)
    answer = await gql(
        ingest_mutation("product"), {"input": {"records": [shopify_product(1)]}}, key=tenant.secret
    )
    job_id = answer["ingestProducts"]["job"]["id"]
    pushed = await api.post(
        "/ingest/products", json={"records": [shopify_product(2)]}, headers=tenant.headers
    )
    bad_key = "gw_test_000000000000_" + "1" * 48
    await gql.raw("{ viewer { mode } }", key=bad_key)
    await drain(services)
    await _flushed(services)

    rows = (await gql(EVENTS, {"filter": {"clientId": tenant.client_id}}, key=operator))[
        "auditEvents"
    ]["nodes"]
    by_operation = {row["operation"]: row for row in rows}
    graphql_row = by_operation["graphql.ingestProducts"]
    assert graphql_row["result"] == "ok"
    assert graphql_row["actorKeyId"] == tenant.key_id
    assert graphql_row["actorRole"] == "client"
    assert graphql_row["livemode"] is False
    assert graphql_row["targetIds"] == [job_id]
    assert graphql_row["requestId"]
    rest_row = by_operation["rest.POST /ingest/products"]
    assert rest_row["targetIds"] == [pushed.json()["id"]]

    failures = (await gql(EVENTS, {"filter": {"operation": "auth.failed"}}, key=operator))[
        "auditEvents"
    ]["nodes"]
    assert failures[0]["result"] == "invalid_api_key"
    assert failures[0]["targetIds"] == ["gw_test_000000000000"]
    async with services.sessions() as session:
        stored = " ".join(str(row.__dict__) for row in await session.scalars(select(AuditEvent)))
    assert bad_key not in stored and tenant.secret not in stored


async def test_refused_operator_only_calls_and_key_changes_are_audited(gql, services, tenant):
    operator = await operator_key(services)
    await gql.raw("{ apiKeys { nodes { id } } }", key=tenant.secret)
    await gql.raw(
        "mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }",
        {"id": tenant.key_id},
        key=tenant.secret,
    )
    await gql(
        "mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }",
        {"id": tenant.key_id},
        key=operator,
    )
    await _flushed(services)
    rows = (await gql(EVENTS, {"filter": {"operation": "graphql.revokeApiKey"}}, key=operator))[
        "auditEvents"
    ]["nodes"]
    assert [(row["actorRole"], row["result"]) for row in rows] == [
        ("operator", "ok"),
        ("client", "operator_only"),
    ]
    assert all(tenant.key_id in row["targetIds"] for row in rows)


async def test_rows_older_than_the_retention_are_purged(gql, services, tenant):
    operator = await operator_key(services)
    await gql.raw("{ viewer { mode } }", key="gw_test_000000000000_" + "2" * 48)
    await gql.raw("{ viewer { mode } }", key="gw_test_000000000000_" + "3" * 48)
    await _flushed(services)
    async with services.sessions() as session, session.begin():
        oldest = await session.scalar(select(AuditEvent.id).order_by(AuditEvent.id).limit(1))
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == oldest)
            .values(occurred_at=datetime.now(UTC) - timedelta(days=400))
        )
    assert await audit.purge(services.sessions, timedelta(days=365)) == 1
    left = (await gql(EVENTS, {"filter": {"operation": "auth.failed"}}, key=operator))[
        "auditEvents"
    ]["nodes"]
    assert len(left) == 1
