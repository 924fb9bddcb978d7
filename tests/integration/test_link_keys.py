"""Identity link keys chosen per client and entity (setConflictPolicy.identity), and a fixed
quarantined record taking the same path to the store as an ingested one."""

from typing import Any

import pytest

from tests.conftest import GraphQL, Tenant
from tests.helpers import personal_reader, shopify_product
from tests.integration.test_conflicts import (
    LINKED,
    RESOLUTIONS,
    person,
    pim_product,
    push_people,
    push_products,
)
from tests.integration.test_quarantine import FIX, ingested, listing

GTIN = "04006381333931"
POLICY_FIELDS = "entity version identity relinkedRecords"
SET_POLICY = f"""mutation P($input: SetConflictPolicyInput!) {{
  setConflictPolicy(input: $input) {{ policy {{ {POLICY_FIELDS} }} errors {{ code message path }} }}
}}"""


async def policy(gql: GraphQL, tenant: Tenant, **given: Any) -> dict[str, Any]:
    answer = await gql(SET_POLICY, {"input": {"owners": [], **given}}, key=tenant.secret)
    return dict(answer["setConflictPolicy"])


async def linked(gql: GraphQL, key: str, entity: str, value: str) -> dict[str, Any] | None:
    found = await gql(LINKED, {"entity": entity, "identity": value}, key=key)
    return found["linkedRecord"]  # type: ignore[no-any-return]


def members(found: dict[str, Any] | None) -> set[tuple[str, str]]:
    assert found is not None
    return {(m["sourcePlatform"], m["externalId"]) for m in found["members"]}


async def resolutions(gql: GraphQL, tenant: Tenant, entity: str = "PRODUCT") -> list[Any]:
    data = await gql(RESOLUTIONS, {"entity": entity}, key=tenant.secret)
    return list(data["recordResolutions"]["nodes"])


def gtin_product(number: int, gtin: str = GTIN) -> dict[str, Any]:
    product = shopify_product(number)
    product["attributes"] = {**product.get("attributes", {}), "gtin": gtin}
    return product


async def test_products_linked_by_gtin_are_one_product_whatever_their_skus(gql, services, tenant):
    answer = await policy(gql, tenant, entity="PRODUCT", identity="attributes.gtin")
    assert answer["errors"] == []
    assert answer["policy"]["identity"] == "attributes.gtin"
    assert answer["policy"]["relinkedRecords"] == 0  # nothing stored yet
    await push_products(gql, services, tenant, [gtin_product(1)])
    pim = pim_product("PIM-77", "2026-11-05T10:00:00Z", attributes={"gtin": GTIN})
    await push_products(gql, services, tenant, [pim])

    [link] = await resolutions(gql, tenant)
    assert link["kind"] == "LINKED" and link["field"] == "attributes.gtin"
    assert link["externalId"] == "pim-PIM-77" and link["detail"]["attributes.gtin"] == GTIN
    found = await linked(gql, tenant.secret, "PRODUCT", GTIN)
    assert members(found) == {("shopify", "8072389001"), ("custom", "pim-PIM-77")}
    assert found is not None and found["data"]["sku"] == "PIM-77"  # the newest
    assert await linked(gql, tenant.secret, "PRODUCT", "LS-00001") is None  # not the key now


async def test_changing_the_key_relinks_the_records_already_stored(gql, services, tenant):
    await push_products(gql, services, tenant, [gtin_product(1), gtin_product(2, "111")])
    pim = pim_product("PIM-77", "2026-11-05T10:00:00Z", attributes={"gtin": GTIN})
    await push_products(gql, services, tenant, [pim])
    assert await linked(gql, tenant.secret, "PRODUCT", GTIN) is None  # linked by sku today

    answer = await policy(gql, tenant, entity="PRODUCT", identity="attributes.gtin")
    assert answer["policy"]["version"] == 1 and answer["policy"]["relinkedRecords"] == 3
    found = await linked(gql, tenant.secret, "PRODUCT", GTIN)
    assert members(found) == {("shopify", "8072389001"), ("custom", "pim-PIM-77")}

    # A record whose value changes leaves its old value's group; owners alone keep the key.
    await push_products(gql, services, tenant, [pim_product("PIM-77", "2026-11-06T10:00:00Z")])
    assert members(await linked(gql, tenant.secret, "PRODUCT", GTIN)) == {("shopify", "8072389001")}
    kept = await policy(
        gql,
        tenant,
        entity="PRODUCT",
        identity="attributes.gtin",
        owners=[{"field": "price", "platform": "SHOPIFY"}],
    )
    assert kept["policy"]["version"] == 2 and kept["policy"]["relinkedRecords"] is None
    back = await policy(gql, tenant, entity="PRODUCT", identity="sku")
    assert back["policy"]["relinkedRecords"] == 3
    assert members(await linked(gql, tenant.secret, "PRODUCT", "PIM-77")) == {
        ("custom", "pim-PIM-77")
    }


async def test_people_linked_by_phone(gql, services, tenant):
    answer = await policy(gql, tenant, entity="AUDIENCE", identity="phone")
    assert answer["errors"] == []
    phone = "+351912345678"
    await push_people(
        gql,
        services,
        tenant,
        [
            person("hubspot", "51", "2026-11-01T10:00:00Z", email="ana@work.example", phone=phone),
            person(
                "shopify", "7001", "2026-11-02T10:00:00Z", email="ana@home.example", phone=phone
            ),
            person("shopify", "7002", "2026-11-02T10:00:00Z", email="bo@example.com"),
        ],
    )
    reader = await personal_reader(services, tenant)
    found = await linked(gql, reader.secret, "AUDIENCE", phone)
    assert members(found) == {("hubspot", "51"), ("shopify", "7001")}
    assert found is not None and found["data"]["email"] == "ana@home.example"  # the newest


@pytest.mark.parametrize(
    ("entity", "identity", "fragment"),
    [
        ("PRODUCT", "barcode", "sku, url, attributes.<name>"),
        ("PRODUCT", "attributes.", "attributes.<name>"),
        ("PRODUCT", "attributes.has space", "attributes.<name>"),
        ("AUDIENCE", "sku", "email, phone, attributes.<name>"),
        ("CAMPAIGN", "email", "name, attributes.<name>"),
        ("ASSET", "name", "sha256, source_url"),
    ],
)
async def test_a_key_the_entity_does_not_have_is_refused_at_identity(
    gql, tenant, entity, identity, fragment
):
    answer = await policy(gql, tenant, entity=entity, identity=identity)
    assert answer["policy"] is None
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [("invalid_policy", "identity")]
    assert fragment in answer["errors"][0]["message"]


async def test_a_fixed_record_is_linked_like_an_ingested_one(gql, services, tenant):
    await push_products(gql, services, tenant, [shopify_product(1)])
    broken = pim_product("LS-00001", "2026-11-05T10:00:00Z", name=None)
    await ingested(gql, services, tenant, [broken])
    [entry] = await listing(gql, tenant)
    answer = (await gql(FIX, {"id": entry["id"], "patch": {"name": "PIM"}}, key=tenant.secret))[
        "fixQuarantinedRecord"
    ]
    assert answer["outcome"] == "written"
    [link] = await resolutions(gql, tenant)
    assert link["kind"] == "LINKED" and link["externalId"] == "pim-LS-00001"
    assert link["jobId"] == entry["jobId"]
    found = await linked(gql, tenant.secret, "PRODUCT", "LS-00001")
    assert members(found) == {("shopify", "8072389001"), ("custom", "pim-LS-00001")}


async def test_a_stale_fix_is_recorded_as_stale(gql, services, tenant):
    await push_products(gql, services, tenant, [shopify_product(1, "2026-11-05T00:00:00Z")])
    await ingested(gql, services, tenant, [shopify_product(1, "2026-11-01T00:00:00Z", name=None)])
    [entry] = await listing(gql, tenant)
    answer = (await gql(FIX, {"id": entry["id"], "patch": {"name": "Old"}}, key=tenant.secret))[
        "fixQuarantinedRecord"
    ]
    assert answer["outcome"] == "stale"
    [stale] = await resolutions(gql, tenant)
    assert stale["kind"] == "STALE" and stale["detail"]["incoming_source_updated_at"] == (
        "2026-11-01T00:00:00Z"
    )


async def test_a_fixed_subscribe_does_not_undo_an_unsubscribe(gql, services, tenant):
    at = "2026-11-02T08:00:00Z"
    await push_people(gql, services, tenant, [person("shopify", "7001", at, "unsubscribed", at)])
    broken = person(
        "hubspot",
        "51",
        "2026-11-03T10:00:00Z",
        "subscribed",
        "2026-06-01T00:00:00Z",
        email="not an email",
    )
    await ingested(gql, services, tenant, [broken], entity="audience")
    [entry] = await listing(gql, tenant, {"entity": "AUDIENCE"})
    patch = {"email": "ana.silva@example.com"}
    answer = (await gql(FIX, {"id": entry["id"], "patch": patch}, key=tenant.secret))[
        "fixQuarantinedRecord"
    ]
    assert answer["errors"] == [] and answer["outcome"] == "written"
    reader = await personal_reader(services, tenant)
    found = await linked(gql, reader.secret, "AUDIENCE", "ana.silva@example.com")
    assert members(found) == {("shopify", "7001"), ("hubspot", "51")}
    [kept] = await resolutions(gql, tenant, "AUDIENCE")
    assert kept["kind"] == "CONSENT_KEPT" and kept["externalId"] == "51"


async def test_a_deleted_record_takes_its_identity_row_with_it(gql, services, tenant):
    """Erasure and retention delete canonical records; no identity value (an email) may stay."""
    from sqlalchemy import delete, func, select

    from app.db.models import CanonicalRecord
    from app.records.identity import RecordIdentity

    await push_people(gql, services, tenant, [person("hubspot", "51", "2026-11-01T10:00:00Z")])
    mine = RecordIdentity.client_id == tenant.client_id
    async with services.sessions() as session, session.begin():
        assert await session.scalar(select(func.count()).where(mine)) == 1
        await session.execute(
            delete(CanonicalRecord).where(CanonicalRecord.client_id == tenant.client_id)
        )
    async with services.sessions() as session:
        assert await session.scalar(select(func.count()).where(mine)) == 0
