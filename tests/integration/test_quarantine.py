"""Failed records are held in quarantine with their raw input and every error; a partner lists,
fixes, replays and discards them, and a client's own validation rules decide what passes."""

from typing import Any

import pytest

from app.services import Services
from app.tenancy import service as tenancy
from app.tenancy.models import CLIENT_SCOPES, KeyMode, Scope
from tests.conftest import GraphQL, Tenant, create_tenant
from tests.helpers import JOB_QUERY, drain, shopify_product
from tests.integration.test_ingest_pipeline import finished_job, push, stored
from tests.integration.test_ingest_raw import push_raw, shopify_page

SET_RULES = """mutation Rules($input: SetValidationRulesInput!) {
  setValidationRules(input: $input) {
    ruleSet { entity version rules defaults } errors { code message path }
  }
}"""

ENTRY_FIELDS = """id entity platform externalId status stage jobId index raw mapped attempts fixes
  errors { code message path ruleId value } resolvedAt discardedAt discardedBy replayJobId"""

QUARANTINE = f"""query Q($filter: QuarantineFilterInput, $first: Int!, $after: String) {{
  quarantine(filter: $filter, first: $first, after: $after) {{
    nodes {{ {ENTRY_FIELDS} }} pageInfo {{ endCursor hasNextPage }}
  }}
}}"""

ENTRY = f"query E($id: ID!) {{ quarantinedRecord(id: $id) {{ {ENTRY_FIELDS} }} }}"

FIX = f"""mutation Fix($id: ID!, $patch: JSONObject!) {{
  fixQuarantinedRecord(id: $id, patch: $patch) {{
    quarantinedRecord {{ {ENTRY_FIELDS} }} record {{ externalId version data }} outcome
    errors {{ code message path }}
  }}
}}"""

REPLAY = """mutation Replay($ids: [ID!], $filter: QuarantineFilterInput) {
  replayQuarantined(ids: $ids, filter: $filter) {
    jobs { id status entity counters { received } } replayed resent
    errors { code message path }
  }
}"""

DISCARD = """mutation Discard($ids: [ID!], $filter: QuarantineFilterInput) {
  discardQuarantined(ids: $ids, filter: $filter) { discarded errors { code message path } }
}"""

SKU_FORMAT = {"id": "sku_format", "kind": "regex", "field": "sku", "pattern": "^[A-Z0-9-]+$"}
PRICE_WHEN_ACTIVE = {
    "id": "price_required_when_active",
    "kind": "required",
    "field": "price",
    "when": {"field": "status", "equals": "active"},
}


@pytest.fixture
async def euro_shop(services: Services, tenant: Tenant) -> None:
    async with services.sessions() as session, session.begin():
        await tenancy.configure_client(session, tenant.client_id, currency="EUR", region="GB")


async def pii_reader(services: Services, tenant: Tenant) -> Tenant:
    """Another key of the same client that may read personal data."""
    scopes = [scope.value for scope in CLIENT_SCOPES | {Scope.PII_READ}]
    async with services.sessions() as session, session.begin():
        created = await tenancy.create_key(session, tenant.client_id, KeyMode.TEST, scopes=scopes)
    return Tenant(tenant.client_id, created.key.id, created.secret)


async def set_rules(
    gql: GraphQL, tenant: Tenant, rules: list[Any], entity: str = "PRODUCT"
) -> dict[str, Any]:
    variables = {"input": {"entity": entity, "rules": rules}}
    return dict((await gql(SET_RULES, variables, key=tenant.secret))["setValidationRules"])


async def ingested(
    gql: GraphQL, services: Any, tenant: Tenant, records: list[Any], entity: str = "product"
) -> dict[str, Any]:
    return await finished_job(
        gql, services, tenant, (await push(gql, tenant, records, entity))["job"]["id"]
    )


async def listing(
    gql: GraphQL, tenant: Tenant, filter: dict[str, Any] | None = None, first: int = 100
) -> list[dict[str, Any]]:
    variables = {"filter": filter, "first": first, "after": None}
    return list((await gql(QUARANTINE, variables, key=tenant.secret))["quarantine"]["nodes"])


async def test_a_custom_rule_quarantines_a_record_the_contract_accepts(gql, services, tenant):
    answer = await set_rules(gql, tenant, [SKU_FORMAT, PRICE_WHEN_ACTIVE])
    assert answer["errors"] == []
    assert answer["ruleSet"]["version"] == 1
    records = [
        shopify_product(1),
        shopify_product(2, sku="ls 002 lower"),
        shopify_product(3, price=None, compare_at_price=None),
        shopify_product(4, status="draft", price=None, compare_at_price=None),
    ]
    job = await ingested(gql, services, tenant, records)

    assert job["counters"]["valid"] == 2
    assert job["counters"]["quarantined"] == 2
    # The job's error report keeps its shape.
    assert {(e["index"], e["path"], e["code"]) for e in job["errors"]["nodes"]} == {
        (1, "records[1].sku", "invalid_format"),
        (2, "records[2].price", "required"),
    }
    assert {r["externalId"] for r in await stored(gql, tenant)} == {"8072389001", "8072389004"}

    entries = {e["index"]: e for e in await listing(gql, tenant)}
    assert set(entries) == {1, 2}
    [sku_error] = entries[1]["errors"]
    assert sku_error == {
        "code": "invalid_format",
        "message": "'sku' must match ^[A-Z0-9-]+$.",
        "path": "sku",
        "ruleId": "sku_format",
        "value": "ls 002 lower",
    }
    assert (entries[1]["status"], entries[1]["stage"]) == ("OPEN", "INGEST")
    assert entries[1]["platform"] == "SHOPIFY"
    assert entries[1]["jobId"] == job["id"]
    assert entries[1]["raw"]["sku"] == "ls 002 lower"  # the raw input, as received
    assert entries[1]["mapped"] is None  # standard-shaped: the raw input is the attempt
    assert entries[2]["errors"][0]["ruleId"] == "price_required_when_active"


async def test_built_in_rules_apply_without_custom_ones(gql, services, tenant):
    cheaper_before = shopify_product(1, compare_at_price={"amount": "9.90", "currency": "EUR"})
    job = await ingested(gql, services, tenant, [cheaper_before])
    assert job["status"] == "FAILED"
    [entry] = await listing(gql, tenant)
    assert entry["errors"][0]["ruleId"] == "compare_at_price_not_below_price"
    assert entry["errors"][0]["path"] == "compare_at_price"
    assert entry["errors"][0]["value"] == "9.90"


async def test_personal_values_are_masked_in_failures(gql, services, tenant):
    rules = [
        {
            "id": "company_email",
            "kind": "regex",
            "field": "email",
            "pattern": "@digicon\\.example$",
        },
        {"id": "name_capitalised", "kind": "regex", "field": "first_name", "pattern": "^[A-Z]"},
        {"id": "phone_uk", "kind": "regex", "field": "phone", "pattern": "^\\+44"},
    ]
    assert (await set_rules(gql, tenant, rules, "AUDIENCE"))["errors"] == []
    person = {
        "external_id": "51",
        "source_platform": "hubspot",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "email": "ana.silva@example.com",
        "phone": "+14155550123",
        "first_name": "ana",
    }
    job = await ingested(gql, services, tenant, [person], "audience")
    assert job["counters"]["quarantined"] == 1
    [entry] = await listing(gql, tenant, {"entity": "AUDIENCE"})
    values = {e["ruleId"]: e["value"] for e in entry["errors"]}
    assert values == {
        "company_email": "a***@e***.com",
        "name_capitalised": "a***",
        "phone_uk": "+14*******23",
    }
    for error in entry["errors"]:
        assert "ana.silva" not in error["message"] and "5550123" not in error["message"]
    # The record itself shows personal values only to keys holding the pii:read scope.
    assert entry["raw"]["email"] == "a***@e***.com"
    assert entry["raw"]["external_id"] == "51"
    reader = await pii_reader(services, tenant)
    [revealed] = await listing(gql, reader, {"entity": "AUDIENCE"})
    assert revealed["raw"]["email"] == "ana.silva@example.com"
    assert revealed["errors"] == entry["errors"]  # failures never carry the plain value


async def test_the_listing_filters_and_pages(gql, services, tenant, euro_shop):
    await set_rules(gql, tenant, [SKU_FORMAT])
    first_job = await ingested(
        gql, services, tenant, [shopify_product(n, sku=f"bad {n}") for n in range(3)]
    )
    second_job = await ingested(gql, services, tenant, [shopify_product(9, name=None)])
    page = shopify_page()
    page[2]["variants"][0]["price"] = "twenty-five"
    raw_job = await finished_job(
        gql, services, tenant, (await push_raw(gql, tenant, page))["job"]["id"]
    )
    assert raw_job["counters"]["quarantined"] >= 1

    everything = await listing(gql, tenant)
    assert len(everything) == 3 + 1 + raw_job["counters"]["quarantined"]
    by_rule = await listing(gql, tenant, {"ruleId": "sku_format"})
    assert {e["jobId"] for e in by_rule} == {first_job["id"]}
    assert len(by_rule) == 3
    assert [e["jobId"] for e in await listing(gql, tenant, {"jobId": second_job["id"]})] == [
        second_job["id"]
    ]
    assert await listing(gql, tenant, {"ruleId": "sku"}) == []  # ids match whole, not in part
    assert await listing(gql, tenant, {"entity": "AUDIENCE"}) == []
    raw_entries = await listing(gql, tenant, {"jobId": raw_job["id"]})
    assert all(e["platform"] == "SHOPIFY" for e in raw_entries)
    priced = [e for e in raw_entries if e["index"] == 2]
    assert priced and priced[0]["mapped"]["source_platform"] == "shopify"  # the mapped attempt
    assert priced[0]["raw"]["variants"][0]["price"] == "twenty-five"
    assert len(await listing(gql, tenant, {"status": "OPEN"})) == len(everything)
    assert await listing(gql, tenant, {"status": "RESOLVED"}) == []
    assert len(await listing(gql, tenant, {"platform": "SHOPIFY"})) == len(everything)

    seen, after = [], None
    while True:
        variables = {"filter": None, "first": 2, "after": after}
        data = (await gql(QUARANTINE, variables, key=tenant.secret))["quarantine"]
        seen += [node["id"] for node in data["nodes"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert seen == [e["id"] for e in everything]
    assert len(set(seen)) == len(seen)


async def test_fix_then_rule_change_and_replay(gql, services, tenant):
    await set_rules(gql, tenant, [SKU_FORMAT])
    records = [shopify_product(n, sku=f"ls-{n}") for n in range(4)]
    job = await ingested(gql, services, tenant, records)
    assert job["counters"]["quarantined"] == 4
    entries = sorted(await listing(gql, tenant), key=lambda entry: entry["index"])

    # A fix that is still wrong keeps the record quarantined, with the new errors.
    still_wrong = await gql(
        FIX, {"id": entries[0]["id"], "patch": {"sku": "still lower"}}, key=tenant.secret
    )
    answer = still_wrong["fixQuarantinedRecord"]
    assert answer["errors"] == [] and answer["record"] is None
    assert answer["quarantinedRecord"]["status"] == "OPEN"
    assert answer["quarantinedRecord"]["errors"][0]["value"] == "still lower"

    fixed = await gql(FIX, {"id": entries[0]["id"], "patch": {"sku": "LS-0"}}, key=tenant.secret)
    answer = fixed["fixQuarantinedRecord"]
    assert answer["outcome"] == "written"
    assert answer["quarantinedRecord"]["status"] == "RESOLVED"
    assert answer["quarantinedRecord"]["errors"] == []
    assert answer["record"]["data"]["sku"] == "LS-0"
    assert [r["data"]["sku"] for r in await stored(gql, tenant)] == ["LS-0"]
    again = await gql(FIX, {"id": entries[0]["id"], "patch": {"sku": "X"}}, key=tenant.secret)
    assert again["fixQuarantinedRecord"]["errors"][0]["code"] == "not_open"

    # The client loosens the rule; replaying the rest lets them through.
    loose = {**SKU_FORMAT, "pattern": "^[A-Za-z0-9-]+$"}
    assert (await set_rules(gql, tenant, [loose]))["ruleSet"]["version"] == 2
    replay = (await gql(REPLAY, {"filter": {"ruleId": "sku_format"}}, key=tenant.secret))[
        "replayQuarantined"
    ]
    assert replay["errors"] == [] and (replay["replayed"], replay["resent"]) == (3, 0)
    [replay_job] = replay["jobs"]
    await drain(services)
    finished = (await gql(JOB_QUERY, {"id": replay_job["id"]}, key=tenant.secret))["job"]
    assert finished["status"] == "SUCCEEDED"
    assert finished["counters"]["written"] == 3
    assert await listing(gql, tenant, {"status": "OPEN"}) == []
    resolved = await listing(gql, tenant, {"status": "RESOLVED"})
    assert len(resolved) == 4
    assert {e["replayJobId"] for e in resolved} == {None, replay_job["id"]}
    assert sorted(r["data"]["sku"] for r in await stored(gql, tenant)) == [
        "LS-0",
        "ls-1",
        "ls-2",
        "ls-3",
    ]


async def test_a_replay_that_still_fails_updates_the_same_entry(gql, services, tenant):
    await set_rules(gql, tenant, [SKU_FORMAT])
    await ingested(gql, services, tenant, [shopify_product(1, sku="bad sku")])
    [entry] = await listing(gql, tenant)
    tighter = {**SKU_FORMAT, "id": "sku_short", "pattern": "^.{1,3}$"}
    await set_rules(gql, tenant, [SKU_FORMAT, tighter])
    replay = (await gql(REPLAY, {"ids": [entry["id"]]}, key=tenant.secret))["replayQuarantined"]
    await drain(services)
    [after] = await listing(gql, tenant)
    assert after["id"] == entry["id"]
    assert after["status"] == "OPEN"
    assert after["attempts"] == 2
    assert after["replayJobId"] == replay["jobs"][0]["id"]
    assert {e["ruleId"] for e in after["errors"]} == {"sku_format", "sku_short"}


async def test_discarded_records_are_kept_with_who_and_when(gql, services, tenant):
    job = await ingested(gql, services, tenant, [{"external_id": "x"}, {"external_id": "y"}])
    entries = await listing(gql, tenant, {"jobId": job["id"]})
    answer = (await gql(DISCARD, {"ids": [entries[0]["id"]]}, key=tenant.secret))[
        "discardQuarantined"
    ]
    assert answer == {"discarded": 1, "errors": []}
    [discarded] = await listing(gql, tenant, {"status": "DISCARDED"})
    assert discarded["discardedBy"] == tenant.key_id
    assert discarded["discardedAt"] is not None
    by_filter = (await gql(DISCARD, {"filter": {"jobId": job["id"]}}, key=tenant.secret))[
        "discardQuarantined"
    ]
    assert by_filter["discarded"] == 1  # the one still open
    again = (await gql(DISCARD, {"ids": [entries[0]["id"]]}, key=tenant.secret))[
        "discardQuarantined"
    ]
    assert again["errors"][0]["code"] == "not_open"
    assert again["errors"][0]["path"] == "ids[0]"
    both = (await gql(DISCARD, {}, key=tenant.secret))["discardQuarantined"]
    assert both["errors"][0]["code"] == "invalid_selection"


async def test_another_clients_quarantine_answers_like_a_missing_one(gql, services, tenant):
    await ingested(gql, services, tenant, [{"external_id": "x"}])
    [entry] = await listing(gql, tenant)
    other = await create_tenant(services, "Other Shop")
    assert await listing(gql, other) == []
    missing = await gql(ENTRY, {"id": "qr_missing"}, key=other.secret)
    theirs = await gql(ENTRY, {"id": entry["id"]}, key=other.secret)
    assert theirs == missing == {"quarantinedRecord": None}
    fixes = [
        (await gql(FIX, {"id": id_, "patch": {"name": "x"}}, key=other.secret))[
            "fixQuarantinedRecord"
        ]["errors"]
        for id_ in (entry["id"], "qr_missing")
    ]
    assert fixes[0] == fixes[1]
    for operation, name in ((REPLAY, "replayQuarantined"), (DISCARD, "discardQuarantined")):
        answers = [
            (await gql(operation, {"ids": [id_]}, key=other.secret))[name]["errors"]
            for id_ in (entry["id"], "qr_missing")
        ]
        assert answers[0] == answers[1] and answers[0][0]["code"] == "not_found"
    [still] = await listing(gql, tenant)
    assert still["status"] == "OPEN"


async def test_rules_that_cannot_work_are_refused_with_paths(gql, services, tenant):
    bad = [
        {"id": "nested", "kind": "regex", "field": "sku", "pattern": "^(a+)+$"},
        {"id": "nowhere", "kind": "required", "field": "colour"},
        {"id": "price_not_negative", "kind": "required", "field": "sku"},
    ]
    answer = await set_rules(gql, tenant, bad)
    assert answer["ruleSet"] is None
    assert {e["path"] for e in answer["errors"]} == {"rules[0].pattern"}
    answer = await set_rules(gql, tenant, bad[1:])
    assert {e["path"] for e in answer["errors"]} == {"rules[0]", "rules[1].id"}
    viewer = await gql(
        "{ viewer { validationRules { entity version rules defaults } } }", key=tenant.secret
    )
    sets = {s["entity"]: s for s in viewer["viewer"]["validationRules"]}
    assert sets["PRODUCT"]["version"] == 0 and sets["PRODUCT"]["rules"] == []
    assert any(r["id"] == "compare_at_price_not_below_price" for r in sets["PRODUCT"]["defaults"])
    await set_rules(gql, tenant, [SKU_FORMAT])
    viewer = await gql("{ viewer { validationRules { entity version rules } } }", key=tenant.secret)
    sets = {s["entity"]: s for s in viewer["viewer"]["validationRules"]}
    assert sets["PRODUCT"]["version"] == 1 and sets["PRODUCT"]["rules"] == [SKU_FORMAT]


async def test_a_record_too_broken_to_read_is_held_and_can_be_fixed_whole(gql, services, tenant):
    job = await ingested(gql, services, tenant, [shopify_product(1), "not an object"])
    assert job["counters"]["quarantined"] == 1
    [entry] = await listing(gql, tenant)
    assert entry["raw"] == "not an object"
    assert entry["externalId"] is None and entry["platform"] is None
    assert entry["errors"][0]["code"] == "invalid_type"

    whole = shopify_product(2)
    answer = (await gql(FIX, {"id": entry["id"], "patch": whole}, key=tenant.secret))[
        "fixQuarantinedRecord"
    ]
    assert answer["outcome"] == "written"
    assert answer["quarantinedRecord"]["externalId"] == whole["external_id"]
    assert {r["externalId"] for r in await stored(gql, tenant)} == {"8072389001", "8072389002"}


async def test_a_fixed_record_is_stale_protected(gql, services, tenant):
    newer = shopify_product(1, updated_at="2026-11-05T00:00:00Z", name="Newer")
    await ingested(gql, services, tenant, [newer])
    older = shopify_product(1, updated_at="2026-11-01T00:00:00Z", name=None)
    await ingested(gql, services, tenant, [older])
    [entry] = await listing(gql, tenant)
    answer = (await gql(FIX, {"id": entry["id"], "patch": {"name": "Older"}}, key=tenant.secret))[
        "fixQuarantinedRecord"
    ]
    assert answer["outcome"] == "stale"
    assert answer["quarantinedRecord"]["status"] == "RESOLVED"
    [record] = await stored(gql, tenant)
    assert record["data"]["name"] == "Newer"


async def test_rule_failures_keep_the_rest_error_report_shape(api, gql, services, tenant):
    await set_rules(gql, tenant, [SKU_FORMAT])
    job = await ingested(gql, services, tenant, [shopify_product(1, sku="bad sku")])
    response = await api.get(f"/jobs/{job['id']}/errors", headers=tenant.headers)
    assert response.status_code == 200
    [error] = response.json()["data"]
    assert error == {
        "index": 0,
        "external_id": "8072389001",
        "code": "invalid_format",
        "message": "'sku' must match ^[A-Z0-9-]+$.",
        "path": "records[0].sku",
    }


async def test_a_replay_keeps_the_fixes_made_before_it(gql, services, tenant):
    await set_rules(gql, tenant, [SKU_FORMAT])
    await ingested(gql, services, tenant, [shopify_product(1, sku="bad sku")])
    [entry] = await listing(gql, tenant)
    patch = {"name": "Linen Shirt (fixed)", "tags": None}
    answer = (await gql(FIX, {"id": entry["id"], "patch": patch}, key=tenant.secret))[
        "fixQuarantinedRecord"
    ]
    assert answer["quarantinedRecord"]["status"] == "OPEN"  # the sku is still wrong
    assert answer["quarantinedRecord"]["fixes"] == [patch]

    await set_rules(gql, tenant, [{**SKU_FORMAT, "pattern": "^[a-z ]+$"}])
    await gql(REPLAY, {"ids": [entry["id"]]}, key=tenant.secret)
    await drain(services)
    [record] = await stored(gql, tenant)
    assert record["data"]["name"] == "Linen Shirt (fixed)"
    assert "tags" not in record["data"] or record["data"]["tags"] == []
    assert (await listing(gql, tenant))[0]["status"] == "RESOLVED"
