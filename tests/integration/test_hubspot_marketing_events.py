"""HubSpot marketing events pushed as campaigns (ingestRaw, entity CAMPAIGN): told apart from
HubSpot campaigns record by record, mapped by hubspot.campaign.marketing_event.json."""

import copy
from typing import Any

from app.services import Services
from tests.conftest import GraphQL, Tenant
from tests.fixtures.platforms import PAGES
from tests.integration.test_ingest_pipeline import finished_job, stored
from tests.integration.test_ingest_raw import push_raw

EVENTS = next(page for page in PAGES if page.name == "hubspot/marketing-events")
CAMPAIGNS = next(page for page in PAGES if page.name == "hubspot/campaigns")


async def pushed(gql: GraphQL, services: Services, tenant: Tenant, records: list[Any]) -> Any:
    payload = await push_raw(gql, tenant, records, platform="HUBSPOT", entity="CAMPAIGN")
    assert payload["errors"] == []
    return await finished_job(gql, services, tenant, payload["job"]["id"])


async def test_events_and_campaigns_in_one_push_each_map_by_their_own_rules(
    gql: GraphQL, services: Services, tenant: Tenant
) -> None:
    [webinar, workshop] = EVENTS.records()
    [black_friday, _] = CAMPAIGNS.records()
    job = await pushed(gql, services, tenant, [webinar, black_friday, workshop])
    assert job["status"] == "SUCCEEDED", job["errors"]
    records = {r["externalId"]: r["data"] for r in await stored(gql, tenant, entity="CAMPAIGN")}
    assert set(records) == {"58237461902", "58237461977", black_friday["id"]}
    event = records["58237461902"]
    assert (event["name"], event["channel"], event["start_at"], event["end_at"]) == (
        "Linen care live: ask the weavers",
        "web",
        "2026-12-03T16:00:00Z",
        "2026-12-03T16:45:00Z",
    )
    assert event["attributes"]["external_event_id"] == "zoom-88412003311"
    assert (records["58237461977"]["status"], records["58237461977"]["channel"]) == (
        "archived",
        "other",
    )
    assert records[black_friday["id"]]["name"] == "Black Friday 2026"


async def test_a_completed_event_is_completed_and_a_newer_read_replaces_it(
    gql: GraphQL, services: Services, tenant: Tenant
) -> None:
    [webinar, _] = EVENTS.records()
    await pushed(gql, services, tenant, [webinar])
    done = copy.deepcopy(webinar) | {
        "eventCompleted": True,
        "attendees": 162,
        "updatedAt": "2026-12-03T17:10:00.000Z",
    }
    job = await pushed(gql, services, tenant, [done])
    assert job["counters"]["written"] == 1
    [record] = await stored(gql, tenant, ["58237461902"], entity="CAMPAIGN")
    assert record["data"]["status"] == "completed"
    assert record["data"]["attributes"]["attendees"] == 162


async def test_an_event_without_a_name_or_with_bad_dates_is_quarantined_alone(
    gql: GraphQL, services: Services, tenant: Tenant
) -> None:
    [webinar, workshop] = copy.deepcopy(EVENTS.records())
    del webinar["eventName"]
    workshop["endDateTime"] = "2027-03-13T09:00:00Z"  # before it starts
    good = copy.deepcopy(EVENTS.records()[0]) | {"objectId": "58237462000"}
    job = await pushed(gql, services, tenant, [webinar, workshop, good])
    assert (job["counters"]["quarantined"], job["counters"]["written"]) == (2, 1)
    errors = {(e["externalId"], e["path"]) for e in job["errors"]["nodes"]}
    assert ("58237461902", "records[0].eventName") in errors
    assert any(external_id == "58237461977" for external_id, _ in errors)
    assert [r["externalId"] for r in await stored(gql, tenant, entity="CAMPAIGN")] == [
        "58237462000"
    ]
