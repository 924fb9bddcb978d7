"""Metering: per-request counts and job results add up to the work done, per client and day."""

from datetime import UTC, datetime

from tests.conftest import create_tenant
from tests.helpers import drain, ingest_mutation, shopify_product
from tests.integration.test_key_lifecycle import operator_key

VIEWER_USAGE = """
query($from: Date!, $to: Date!) { viewer { usage(from: $from, to: $to) { day metric value } } }"""
REPORT = """
query($from: Date!, $to: Date!, $client: ID) {
  usageReport(from: $from, to: $to, clientId: $client) { clientId livemode metric value }
}"""


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _totals(rows) -> dict[str, float]:
    return {row["metric"]: row["value"] for row in rows}


async def test_usage_counts_calls_by_door_and_records_of_finished_jobs(gql, api, services, tenant):
    good, bad = shopify_product(1), {**shopify_product(2), "price": {"amount": "x"}}
    await gql(ingest_mutation("product"), {"input": {"records": [good, bad]}}, key=tenant.secret)
    await api.post(
        "/ingest/products", json={"records": [shopify_product(3)]}, headers=tenant.headers
    )
    await api.get("/jobs", headers=tenant.headers)
    other = await create_tenant(services, "Other")
    await api.get("/jobs", headers=other.headers)
    await drain(services)
    await services.meter.flush()

    day = _today()
    rows = (await gql(VIEWER_USAGE, {"from": day, "to": day}, key=tenant.secret))["viewer"]
    totals = _totals(rows["usage"])
    assert totals["api_calls.graphql"] == 1  # this query is counted in the next flush
    assert totals["api_calls.rest"] == 2
    assert totals["records.received"] == 3
    assert totals["records.processed"] == 3
    assert totals["records.quarantined"] == 1
    assert {row["day"] for row in rows["usage"]} == {day}

    operator = await operator_key(services)
    report = await gql(REPORT, {"from": day, "to": day, "client": other.client_id}, key=operator)
    assert _totals(report["usageReport"]) == {"api_calls.rest": 1}
    everyone = (await gql(REPORT, {"from": day, "to": day}, key=operator))["usageReport"]
    assert {row["clientId"] for row in everyone} == {tenant.client_id, other.client_id}


async def test_usage_ranges_are_checked(gql, tenant):
    response = await gql.raw(
        VIEWER_USAGE, {"from": "2026-02-01", "to": "2026-01-01"}, key=tenant.secret
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "invalid_date_range"


async def test_webhook_deliveries_count_for_the_connections_client(api, gql, services, tenant):
    from tests.integration.test_webhooks import SHOPIFY_SECRET, connect, path_of, shopify_headers

    connection = await connect(gql, tenant, "shopify", SHOPIFY_SECRET)
    body = b'{"id": 450789469}'
    for number in range(2):
        headers = shopify_headers(body, topic="orders/create", event_id=f"usage-{number}")
        assert (await api.post(path_of(connection), content=body, headers=headers)).is_success
    await services.meter.flush()
    day = _today()
    rows = (await gql(VIEWER_USAGE, {"from": day, "to": day}, key=tenant.secret))["viewer"]
    assert _totals(rows["usage"])["api_calls.webhook"] == 2
