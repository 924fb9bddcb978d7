"""Partners report sync runs and connection health; clients and operators see the summary."""

from datetime import UTC, datetime, timedelta

from tests.conftest import create_tenant
from tests.integration.test_key_lifecycle import operator_key

REPORT_RUN = """
mutation($input: ReportSyncRunInput!) {
  reportSyncRun(input: $input) {
    syncRun { id platform entity recordsSent errorCount errors { code message path } }
    errors { code message path }
  }
}"""
REPORT_HEALTH = """
mutation($input: ReportConnectionHealthInput!) {
  reportConnectionHealth(input: $input) {
    connection { platform status detail since reportedAt }
    errors { code }
  }
}"""
HEALTH = """
{ syncHealth { platform errorsLast24h connection { status detail since }
               lastRuns { entity recordsSent errorCount finishedAt } } }"""


def _run(entity="PRODUCT", sent=120, errors=(), hours_ago=1):
    finished = datetime.now(UTC) - timedelta(hours=hours_ago)
    return {
        "platform": "SHOPIFY",
        "entity": entity,
        "startedAt": (finished - timedelta(minutes=5)).isoformat(),
        "finishedAt": finished.isoformat(),
        "recordsSent": sent,
        "errors": list(errors),
    }


async def test_sync_health_shows_the_last_run_per_entity_and_recent_errors(gql, tenant):
    failure = {"code": "rate_limited", "message": "Shopify 429", "externalId": "gid://1"}
    for run in (
        _run(sent=100, errors=[failure] * 3, hours_ago=30),  # outside the 24 h window
        _run(sent=120, errors=[failure] * 2, hours_ago=2),
        _run(sent=130, hours_ago=1),
        _run(entity="AUDIENCE", sent=10, errors=[failure]),
    ):
        answer = (await gql(REPORT_RUN, {"input": run}, key=tenant.secret))["reportSyncRun"]
        assert answer["errors"] == []
    assert answer["syncRun"]["errors"] == [
        {"code": "rate_limited", "message": "Shopify 429", "path": "gid://1"}
    ]

    health = (await gql(HEALTH, key=tenant.secret))["syncHealth"]
    assert len(health) == 1 and health[0]["platform"] == "SHOPIFY"
    assert health[0]["errorsLast24h"] == 3
    assert health[0]["connection"] is None
    runs = {run["entity"]: run for run in health[0]["lastRuns"]}
    assert runs["PRODUCT"]["recordsSent"] == 130
    assert runs["AUDIENCE"]["errorCount"] == 1


async def test_bad_run_reports_get_field_errors(gql, tenant):
    backwards = {**_run(), "finishedAt": "2020-01-01T00:00:00Z"}
    naive = {**_run(), "startedAt": "2026-01-01T00:00:00"}
    negative = {**_run(), "recordsSent": -1}
    for run, code, path in (
        (backwards, "invalid_range", "finished_at"),
        (naive, "invalid_datetime", "started_at"),
        (negative, "invalid_count", "records_sent"),
    ):
        answer = (await gql(REPORT_RUN, {"input": run}, key=tenant.secret))["reportSyncRun"]
        assert answer["syncRun"] is None
        assert (answer["errors"][0]["code"], answer["errors"][0]["path"]) == (code, path)


async def test_connection_health_keeps_since_until_the_status_changes(gql, services, tenant):
    async def report(status, detail=None):
        variables = {"input": {"platform": "HUBSPOT", "status": status, "detail": detail}}
        answer = await gql(REPORT_HEALTH, variables, key=tenant.secret)
        return answer["reportConnectionHealth"]["connection"]

    first = await report("HEALTHY")
    again = await report("HEALTHY")
    assert again["since"] == first["since"] and again["reportedAt"] > first["reportedAt"]
    revoked = await report("REVOKED", "token revoked by the shop owner")
    assert revoked["since"] > first["since"]

    operator = await operator_key(services)
    other = await create_tenant(services, "Other")
    seen_by_operator = await gql.client.post(
        "/graphql",
        json={"query": HEALTH},
        headers={"Authorization": f"Bearer {operator}", "Gateway-Client": tenant.client_id},
    )
    health = seen_by_operator.json()["data"]["syncHealth"]
    assert health[0]["connection"]["status"] == "REVOKED"
    assert health[0]["connection"]["detail"] == "token revoked by the shop owner"
    assert (await gql(HEALTH, key=other.secret))["syncHealth"] == []
