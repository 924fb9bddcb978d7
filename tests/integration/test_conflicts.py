"""Conflicts between records: email consent settled across platforms (an unsubscribe wins and goes
to the AMS first), and every resolution kept as history the client can query."""

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from app.settings import Settings
from tests.conftest import GraphQL, Tenant, create_tenant
from tests.helpers import personal_reader, served_gateway, shopify_product
from tests.integration.test_ams_sync import Gateway, ams_settings, entity_sync, eventually
from tests.integration.test_ingest_pipeline import finished_job, push, stored

RESOLUTIONS = """query R(
  $entity: Entity!, $platform: SourcePlatform, $id: String, $kind: ResolutionKind
) {
  recordResolutions(entity: $entity, sourcePlatform: $platform, externalId: $id, kind: $kind) {
    nodes { entity sourcePlatform externalId kind field jobId detail }
    pageInfo { hasNextPage }
  }
}"""
EMAIL = "ana.silva@example.com"
SET_POLICY = """mutation P($input: SetConflictPolicyInput!) {
  setConflictPolicy(input: $input) {
    policy { entity version identity owners } errors { code message path }
  }
}"""
LINKED = """query L($entity: Entity!, $identity: String!) {
  linkedRecord(entity: $entity, identity: $identity) {
    identity data fieldSources policyVersion members { sourcePlatform externalId }
  }
}"""


def person(
    platform: str,
    external_id: str,
    updated: str,
    consent: str | None = None,
    consent_at: str | None = None,
    email: str = EMAIL,
    **fields: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "external_id": external_id,
        "source_platform": platform,
        "source_updated_at": updated,
        "email": email,
        **fields,
    }
    if consent is not None:
        record["email_consent"] = consent
    if consent_at is not None:
        record["consent_updated_at"] = consent_at
    return record


async def push_people(gql: GraphQL, services: Any, tenant: Tenant, people: list[Any]) -> Any:
    job = await finished_job(
        gql, services, tenant, (await push(gql, tenant, people, entity="audience"))["job"]["id"]
    )
    assert job["counters"]["quarantined"] == 0, job["errors"]
    return job


async def audience(gql: GraphQL, tenant: Tenant) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["sourcePlatform"], r["externalId"]): r
        for r in await stored(gql, tenant, entity="AUDIENCE")
    }


async def resolutions(gql: GraphQL, tenant: Tenant, **filters: Any) -> list[dict[str, Any]]:
    variables = {"entity": "AUDIENCE", **filters}
    data = await gql(RESOLUTIONS, variables, key=tenant.secret)
    return list(data["recordResolutions"]["nodes"])


async def test_a_later_push_with_an_older_subscribe_does_not_undo_an_unsubscribe(
    gql, services, tenant
):
    await push_people(
        gql,
        services,
        tenant,
        [person("shopify", "7001", "2026-11-02T08:00:00Z", "unsubscribed", "2026-11-02T08:00:00Z")],
    )
    job = await push_people(
        gql,
        services,
        tenant,
        [
            person(
                "hubspot",
                "51",
                "2026-11-03T10:00:00Z",
                "subscribed",
                "2026-06-01T00:00:00Z",
                first_name="Ana",
            )
        ],
    )
    records = await audience(gql, await personal_reader(services, tenant))  # names unmasked
    hubspot = records[("hubspot", "51")]["data"]
    assert hubspot["email_consent"] == "unsubscribed"
    assert hubspot["consent_updated_at"] == "2026-11-02T08:00:00Z"
    assert hubspot["first_name"] == "Ana"

    [kept] = await resolutions(gql, tenant, platform="HUBSPOT", id="51")
    assert kept["kind"] == "CONSENT_KEPT" and kept["field"] == "email_consent"
    assert kept["jobId"] == job["id"]
    assert kept["detail"]["winner"] == {"source_platform": "shopify", "external_id": "7001"}
    assert kept["detail"]["replaced"] == "subscribed"
    assert EMAIL not in str(kept["detail"])


async def test_an_unsubscribe_reaches_the_other_platforms_copies_of_the_person(
    gql, services, tenant
):
    await push_people(
        gql,
        services,
        tenant,
        [
            person("hubspot", "51", "2026-11-01T10:00:00Z", "subscribed", "2026-10-01T00:00:00Z"),
            person("hubspot", "52", "2026-11-01T10:00:00Z", "subscribed", email="bo@example.com"),
        ],
    )
    await push_people(
        gql,
        services,
        tenant,
        [person("shopify", "7001", "2026-11-02T08:00:00Z", "unsubscribed", "2026-11-02T08:00:00Z")],
    )
    records = await audience(gql, tenant)
    assert records[("hubspot", "51")]["data"]["email_consent"] == "unsubscribed"
    assert records[("hubspot", "51")]["version"] == 2
    assert records[("hubspot", "52")]["data"]["email_consent"] == "subscribed"  # someone else
    [propagated] = await resolutions(gql, tenant, kind="CONSENT_PROPAGATED")
    assert (propagated["sourcePlatform"], propagated["externalId"]) == ("hubspot", "51")

    # A newer re-subscription wins like any newer value.
    await push_people(
        gql,
        services,
        tenant,
        [person("hubspot", "51", "2026-11-04T10:00:00Z", "subscribed", "2026-11-04T10:00:00Z")],
    )
    records = await audience(gql, tenant)
    assert records[("hubspot", "51")]["data"]["email_consent"] == "subscribed"


async def test_an_unsubscribe_delivered_late_still_applies_to_its_record(gql, services, tenant):
    await push_people(
        gql,
        services,
        tenant,
        [person("shopify", "7001", "2026-11-03T10:00:00Z", "subscribed", "2026-10-01T00:00:00Z")],
    )
    job = await push_people(
        gql,
        services,
        tenant,
        [person("shopify", "7001", "2026-11-02T10:00:00Z", "unsubscribed", "2026-11-02T10:00:00Z")],
    )
    assert job["counters"]["stale"] == 1  # the record as a whole is older than the stored one
    [record] = (await audience(gql, tenant)).values()
    assert record["data"]["email_consent"] == "unsubscribed"
    assert record["sourceUpdatedAt"].startswith("2026-11-03T10:00:00")  # the rest unchanged
    assert sorted(r["kind"] for r in await resolutions(gql, tenant)) == [
        "CONSENT_PROPAGATED",
        "STALE",
    ]


async def test_resolutions_are_the_clients_own(gql, services, tenant):
    await push_people(
        gql,
        services,
        tenant,
        [
            person("shopify", "7001", "2026-11-02T08:00:00Z", "unsubscribed"),
            person("hubspot", "51", "2026-11-01T08:00:00Z", "subscribed"),
        ],
    )
    assert len(await resolutions(gql, tenant)) == 1
    other = await create_tenant(services, "Other")
    assert await resolutions(gql, other) == []


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(fast_sandbox_settings)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


async def test_the_ams_sync_writes_unsubscribes_before_other_changes(gateway, services):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    people = [
        person(
            "hubspot",
            str(n),
            "2026-11-01T10:00:00Z",
            "unsubscribed" if n % 5 == 4 else "subscribed",
            email=f"person{n}@example.com",
        )
        for n in range(25)
    ]
    data = await gateway.gql(
        """mutation P($input: IngestAudienceInput!) { ingestAudience(input: $input) {
          errors { code } } }""",
        {"input": {"records": people}},
        key=acme.secret,
    )
    assert data["ingestAudience"]["errors"] == []

    async def synced() -> bool:
        view = (
            await gateway.gql(
                "{ viewer { amsSync { entities { entity written pending lastSyncedAt } } } }",
                key=acme.secret,
            )
        )["viewer"]
        state = entity_sync(view, "AUDIENCE")
        return bool(state and state["written"] == 25 and not state["pending"])

    await eventually(synced)
    writes = [w for w in gateway.traffic.writes() if w.status == 200]
    assert len(writes) == 3
    first = {row["fields"]["External ID"] for row in writes[0].body["records"]}
    assert first == {"4", "9", "14", "19", "24"}
    later = {row["fields"]["External ID"] for w in writes[1:] for row in w.body["records"]}
    assert len(later) == 20 and not later & first


async def push_products(gql: GraphQL, services: Any, tenant: Tenant, products: list[Any]) -> Any:
    job = await finished_job(
        gql, services, tenant, (await push(gql, tenant, products))["job"]["id"]
    )
    assert job["counters"]["quarantined"] == 0, job["errors"]
    return job


async def product_resolutions(gql: GraphQL, tenant: Tenant) -> list[dict[str, Any]]:
    data = await gql(RESOLUTIONS, {"entity": "PRODUCT"}, key=tenant.secret)
    return list(data["recordResolutions"]["nodes"])


async def set_policy(gql: GraphQL, tenant: Tenant, **policy: Any) -> dict[str, Any]:
    data = await gql(SET_POLICY, {"input": policy}, key=tenant.secret)
    return dict(data["setConflictPolicy"])


def pim_product(sku: str, updated: str, **fields: Any) -> dict[str, Any]:
    """The client's PIM, pushed through the custom platform."""
    return {
        "external_id": f"pim-{sku}",
        "source_platform": "custom",
        "source_updated_at": updated,
        "name": "Linen Shirt (PIM name)",
        "sku": sku,
        **fields,
    }


async def test_one_sku_on_two_records_of_one_platform_is_flagged_and_both_are_kept(
    gql, services, tenant
):
    await push_products(gql, services, tenant, [shopify_product(1)])
    job = await push_products(
        gql, services, tenant, [shopify_product(2, sku="LS-00001", name="Copy of shirt 1")]
    )
    assert job["counters"]["written"] == 1
    assert len(await stored(gql, tenant)) == 2  # nothing dropped
    [flag] = await product_resolutions(gql, tenant)
    assert flag["kind"] == "DUPLICATE_SKU" and flag["field"] == "sku"
    assert (flag["sourcePlatform"], flag["externalId"]) == ("shopify", "8072389002")
    assert flag["detail"]["sku"] == "LS-00001"
    assert flag["detail"]["others"] == [{"source_platform": "shopify", "external_id": "8072389001"}]
    # Pushing the same records again decides nothing new.
    await push_products(
        gql, services, tenant, [shopify_product(1), shopify_product(2, sku="LS-00001")]
    )
    assert len(await product_resolutions(gql, tenant)) == 1


async def test_a_stale_update_is_recorded_with_both_times(gql, services, tenant):
    await push_products(gql, services, tenant, [shopify_product(1, "2026-11-02T10:00:00Z")])
    job = await push_products(
        gql, services, tenant, [shopify_product(1, "2026-11-01T10:00:00Z", name="Old name")]
    )
    assert job["counters"]["stale"] == 1
    [stale] = await product_resolutions(gql, tenant)
    assert stale["kind"] == "STALE" and stale["jobId"] == job["id"]
    assert stale["detail"]["incoming_source_updated_at"] == "2026-11-01T10:00:00Z"
    assert stale["detail"]["stored_source_updated_at"] == "2026-11-02T10:00:00Z"


async def test_an_older_copy_in_the_same_batch_is_recorded_as_dropped(gql, services, tenant):
    job = await push_products(
        gql,
        services,
        tenant,
        [
            shopify_product(1, "2026-11-02T10:00:00Z"),
            shopify_product(1, "2026-11-01T10:00:00Z", name="Old name"),
            shopify_product(2),
            shopify_product(2),  # an identical copy: nothing to explain
        ],
    )
    assert job["counters"]["stale"] == 1 and job["counters"]["unchanged"] == 1
    [dropped] = await product_resolutions(gql, tenant)
    assert dropped["kind"] == "DUPLICATE_IN_BATCH" and dropped["externalId"] == "8072389001"
    assert dropped["detail"]["kept_source_updated_at"] == "2026-11-02T10:00:00Z"
    assert dropped["detail"]["dropped_source_updated_at"] == "2026-11-01T10:00:00Z"


async def test_the_same_product_from_two_platforms_is_linked_and_read_with_field_owners(
    gql, services, tenant
):
    answer = await set_policy(
        gql,
        tenant,
        entity="PRODUCT",
        identity="sku",
        owners=[
            {"field": "price", "platform": "SHOPIFY"},
            {"field": "description", "platform": "CUSTOM"},
            {"field": "attributes.care", "platform": "CUSTOM"},
        ],
    )
    assert answer["errors"] == [] and answer["policy"]["version"] == 1
    await push_products(gql, services, tenant, [shopify_product(1, "2026-11-01T10:00:00Z")])
    await push_products(
        gql,
        services,
        tenant,
        [
            pim_product(
                "LS-00001",
                "2026-11-05T10:00:00Z",  # newer than Shopify's
                description="Written by the merchandising team.",
                price={"amount": "39.00", "currency": "EUR"},
                attributes={"care": "hand wash", "origin": "PT"},
            )
        ],
    )
    [linked] = await product_resolutions(gql, tenant)
    assert linked["kind"] == "LINKED" and linked["externalId"] == "pim-LS-00001"
    assert linked["detail"]["linked_with"] == [
        {"source_platform": "shopify", "external_id": "8072389001"}
    ]

    found = (await gql(LINKED, {"entity": "PRODUCT", "identity": "LS-00001"}, key=tenant.secret))[
        "linkedRecord"
    ]
    data, sources = found["data"], found["fieldSources"]
    assert {(m["sourcePlatform"], m["externalId"]) for m in found["members"]} == {
        ("shopify", "8072389001"),
        ("custom", "pim-LS-00001"),
    }
    assert data["price"] == {"amount": "49.90", "currency": "EUR"}  # Shopify owns the price
    assert (
        sources["price"]["reason"] == "owner" and sources["price"]["source_platform"] == "shopify"
    )
    assert data["description"] == "Written by the merchandising team."  # the PIM owns it
    assert data["name"] == "Linen Shirt (PIM name)"  # no owner: the newest source
    assert sources["name"] == {
        "source_platform": "custom",
        "external_id": "pim-LS-00001",
        "reason": "newest",
    }
    assert data["vendor"] == "Nordlinen"  # only Shopify has it
    assert data["attributes"] == {
        "care": "hand wash",
        "material": "linen",
        "origin": "PT",
        "weight_grams": 240,
    }
    assert found["policyVersion"] == 1


async def test_without_an_identity_records_are_not_linked(gql, services, tenant):
    await set_policy(gql, tenant, entity="PRODUCT", identity=None, owners=[])
    await push_products(gql, services, tenant, [shopify_product(1)])
    await push_products(gql, services, tenant, [pim_product("LS-00001", "2026-11-05T10:00:00Z")])
    assert await product_resolutions(gql, tenant) == []
    found = await gql(LINKED, {"entity": "PRODUCT", "identity": "LS-00001"}, key=tenant.secret)
    assert found["linkedRecord"] is None


@pytest.mark.parametrize(
    ("policy", "path", "fragment"),
    [
        ({"identity": "name"}, "identity", "linked by: sku"),
        ({"owners": [{"field": "external_id", "platform": "SHOPIFY"}]}, "owners[0].field", "owned"),
        ({"owners": [{"field": "colour", "platform": "SHOPIFY"}]}, "owners[0].field", "price"),
        (
            {
                "owners": [
                    {"field": "price", "platform": "SHOPIFY"},
                    {"field": "price", "platform": "CUSTOM"},
                ]
            },
            "owners[1].field",
            "two owners",
        ),
    ],
)
async def test_a_bad_policy_is_refused_with_the_field_at_fault(gql, tenant, policy, path, fragment):
    given = {"entity": "PRODUCT", "identity": "sku", "owners": [], **policy}
    answer = await set_policy(gql, tenant, **given)
    assert answer["policy"] is None
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [("invalid_policy", path)]
    assert fragment in answer["errors"][0]["message"]
    viewer = await gql(
        "{ viewer { conflictPolicies { entity version identity } } }", key=tenant.secret
    )
    assert {"entity": "PRODUCT", "version": 0, "identity": "sku"} in viewer["viewer"][
        "conflictPolicies"
    ]


async def test_a_linked_person_reads_unsubscribed_even_against_the_consent_owner(
    gql, services, tenant
):
    await set_policy(
        gql,
        tenant,
        entity="AUDIENCE",
        identity="email",
        owners=[{"field": "email_consent", "platform": "HUBSPOT"}],
    )
    await push_people(
        gql,
        services,
        tenant,
        [
            person("hubspot", "51", "2026-11-01T10:00:00Z", "subscribed", "2026-10-01T00:00:00Z"),
            person(
                "shopify",
                "7001",
                "2026-11-02T08:00:00Z",
                "unsubscribed",
                "2026-11-02T08:00:00Z",
                first_name="Ana",
            ),
        ],
    )
    reader = await personal_reader(services, tenant)  # names unmasked
    found = (await gql(LINKED, {"entity": "AUDIENCE", "identity": EMAIL}, key=reader.secret))[
        "linkedRecord"
    ]
    assert found["data"]["email_consent"] == "unsubscribed"
    assert found["fieldSources"]["email_consent"]["source_platform"] in {"hubspot", "shopify"}
    assert found["data"]["first_name"] == "Ana"


async def test_finding_records_by_identity_value_reads_the_identity_index(services, tenant):
    """The identity lookup every product chunk makes must never scan the catalog."""
    from sqlalchemy import text

    from app.contracts.entities import Entity
    from app.records.storing import store_records
    from app.records.validation import ValidRecord, validate_record
    from app.tenancy.models import Tenant as TenantScope

    catalog = [
        validate_record(Entity.PRODUCT, orjson.dumps(shopify_product(n))) for n in range(300)
    ]
    scope = TenantScope(tenant.client_id, livemode=False)
    async with services.sessions() as session, session.begin():
        records = {
            (r.source_platform, r.external_id): r for r in catalog if isinstance(r, ValidRecord)
        }
        await store_records(session, scope, Entity.PRODUCT, "job_1", records)
    async with services.sessions() as session, session.begin():
        dialect = session.get_bind().dialect.name
        await session.execute(text("ANALYZE record_identities"))
        if dialect == "postgresql":  # 300 narrow rows: a scan is cheaper; is the index usable?
            await session.execute(text("SET LOCAL enable_seqscan = off"))
        query = (
            "SELECT record_id FROM record_identities WHERE client_id = :c AND livemode = false "
            "AND entity = 'product' AND key = 'sku' AND value IN ('LS-00001', 'B')"
        )
        explain = "EXPLAIN QUERY PLAN" if dialect == "sqlite" else "EXPLAIN"
        rows = await session.execute(text(f"{explain} {query}"), {"c": tenant.client_id})
        plan = " ".join(str(row[-1]) for row in rows)
        count = await session.scalar(
            text("SELECT count(*) FROM record_identities WHERE client_id = :c"),
            {"c": tenant.client_id},
        )
    assert "ix_record_identities_value" in plan, plan
    assert count == 300
