"""The sandbox's Airtable-compatible API, driven by the real pyairtable client over HTTP, as the
gateway's AMS writer and a partner's own scripts use it with a test key."""

import asyncio
import re
import time
from typing import Any

import httpx
import pytest
import requests
from pyairtable import Api
from pyairtable.formulas import AND, OR, match

from tests.conftest import create_tenant, make_settings

WORKSPACE = "wspSANDBOX0000001"
PRODUCTS: dict[str, Any] = {
    "name": "Products",
    "fields": [
        {"name": "Name", "type": "singleLineText"},
        {"name": "External ID", "type": "singleLineText"},
        {"name": "Price", "type": "currency", "options": {"precision": 2, "symbol": "$"}},
        {
            "name": "Status",
            "type": "singleSelect",
            "options": {"choices": [{"name": "active"}, {"name": "draft"}]},
        },
        {"name": "Tags", "type": "multipleSelects", "options": {"choices": [{"name": "new"}]}},
        {
            "name": "In stock",
            "type": "checkbox",
            "options": {"color": "greenBright", "icon": "check"},
        },
        {"name": "Launched", "type": "date", "options": {"dateFormat": {"name": "iso"}}},
        {"name": "Images", "type": "multipleAttachments"},
        {"name": "Description", "type": "multilineText"},
    ],
}
CREATED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def airtable_rate() -> tuple[float, float]:
    """(requests per second per base, penalty seconds): generous unless a test says otherwise."""
    return (1000.0, 30.0)


@pytest.fixture
def settings(database_url, airtable_rate):
    per_second, penalty = airtable_rate
    return make_settings(
        database_url,
        sandbox_airtable_requests_per_second=per_second,
        sandbox_airtable_penalty_seconds=penalty,
    )


def airtable_api(live_gateway, secret: str) -> Api:
    return Api(secret, endpoint_url=f"{live_gateway.url}/sandbox/airtable", retry_strategy=False)


@pytest.fixture
async def api(live_gateway, services) -> Api:
    tenant = await create_tenant(services, "Acme", "test")
    return airtable_api(live_gateway, tenant.secret)


@pytest.fixture
async def products(api):
    base = await asyncio.to_thread(api.workspace(WORKSPACE).create_base, "Acme AMS", [PRODUCTS])
    return base.table("Products")


def product(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "Name": f"Product {number}",
        "External ID": f"shopify-{number}",
        "Price": number * 1.5,
        "Status": "active",
        **fields,
    }


def error_of(raised: pytest.ExceptionInfo[requests.HTTPError]) -> tuple[int, dict[str, Any]]:
    response = raised.value.response
    return response.status_code, response.json()["error"]


async def test_pyairtable_provisions_a_base_through_the_metadata_api(api):
    base = await asyncio.to_thread(api.workspace(WORKSPACE).create_base, "Acme AMS", [PRODUCTS])
    assert base.id.startswith("app") and len(base.id) == 17
    assert base.permission_level == "create"

    schema = (await asyncio.to_thread(base.schema, force=True)).table("Products")
    assert [f.name for f in schema.fields] == [f["name"] for f in PRODUCTS["fields"]]
    assert schema.primary_field_id == schema.fields[0].id
    assert [(v.name, v.type) for v in schema.views] == [("Grid view", "grid")]
    status = schema.field("Status")
    assert [c.name for c in status.options.choices] == ["active", "draft"]

    assets = await asyncio.to_thread(
        base.create_table, "Assets", [{"name": "Title", "type": "singleLineText"}]
    )
    link = await asyncio.to_thread(
        assets.create_field,
        "Products",
        "multipleRecordLinks",
        options={"linkedTableId": schema.id},
    )
    assert link.id.startswith("fld") and link.options.linked_table_id == schema.id
    tables = await asyncio.to_thread(base.tables, force=True)
    assert [t.name for t in tables] == ["Products", "Assets"]
    assert [b.id for b in await asyncio.to_thread(api.bases, force=True)] == [base.id]

    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(base.create_table, "assets", [{"name": "X", "type": "email"}])
    assert error_of(raised)[0] == 422


async def test_batch_create_and_list_in_pages(products):
    rows = [product(n, Description="" if n == 1 else f"Item {n}") for n in range(1, 26)]
    created = await asyncio.to_thread(products.batch_create, rows)

    assert len(created) == 25 and len({r["id"] for r in created}) == 25
    assert all(
        r["id"].startswith("rec") and CREATED_TIME.fullmatch(r["createdTime"]) for r in created
    )
    assert "Description" not in created[0]["fields"]  # empty cells are omitted
    pages = [page async for page in _pages(products, page_size=10)]
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [r["id"] for page in pages for r in page] == [r["id"] for r in created]

    top = await asyncio.to_thread(products.all, sort=["-Price"], fields=["Name"], max_records=3)
    assert [r["fields"] for r in top] == [{"Name": f"Product {n}"} for n in (25, 24, 23)]
    by_id = await asyncio.to_thread(products.first, use_field_ids=True)
    assert all(key.startswith("fld") for key in by_id["fields"])


async def _pages(table, **options):
    iterator = table.iterate(**options)
    while page := await asyncio.to_thread(next, iterator, None):
        yield page


async def test_filter_by_formula(products):
    rows = [product(n, Status="draft" if n % 3 == 0 else "active") for n in range(1, 10)]
    await asyncio.to_thread(products.batch_create, rows)

    drafts = await asyncio.to_thread(products.all, formula=match({"Status": "draft"}))
    assert [r["fields"]["Name"] for r in drafts] == ["Product 3", "Product 6", "Product 9"]
    either = OR(match({"Name": "Product 1"}), match({"External ID": "shopify-2"}))
    assert len(await asyncio.to_thread(products.all, formula=either)) == 2
    both = AND(match({"Status": "draft"}), match({"Name": "Product 6"}))
    assert len(await asyncio.to_thread(products.all, formula=both)) == 1

    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(products.all, formula="FIND('x', {Name})")
    assert error_of(raised)[1]["type"] == "INVALID_FILTER_BY_FORMULA"


async def test_upsert_on_external_id_creates_then_updates(products):
    await asyncio.to_thread(products.batch_create, [product(1), product(2)])

    result = await asyncio.to_thread(
        products.batch_upsert,
        [{"fields": product(2, Price=99.0)}, {"fields": product(3)}],
        key_fields=["External ID"],
    )

    assert len(result["updatedRecords"]) == 1 and len(result["createdRecords"]) == 1
    records = {
        r["fields"]["External ID"]: r["fields"] for r in await asyncio.to_thread(products.all)
    }
    assert sorted(records) == ["shopify-1", "shopify-2", "shopify-3"]
    assert records["shopify-2"]["Price"] == 99.0

    await asyncio.to_thread(products.create, product(9, **{"External ID": "shopify-1"}))
    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(
            products.batch_upsert, [{"fields": product(1)}], key_fields=["External ID"]
        )
    assert error_of(raised)[0] == 422


async def test_upsert_into_a_large_table_touches_only_its_matches(products):
    created = await asyncio.to_thread(products.batch_create, [product(n) for n in range(1, 301)])
    ids = [r["id"] for r in created]
    await asyncio.to_thread(products.create, product(301, **{"External ID": "shopify-7"}))

    result = await asyncio.to_thread(
        products.batch_upsert,
        [
            {"fields": product(1, Price=1.0)},
            {"fields": product(150, Price=2.0)},
            {"fields": product(300, Price=3.0)},
            {"fields": product(400)},
            {"fields": product(400, Price=4.0)},  # matches the record created just before
        ],
        key_fields=["External ID"],
    )
    assert len(result["createdRecords"]) == 1
    new_id = result["createdRecords"][0]
    assert result["updatedRecords"] == [ids[0], ids[149], ids[299], new_id]
    prices = {r["id"]: r["fields"]["Price"] for r in result["records"]}
    assert prices == {ids[0]: 1.0, ids[149]: 2.0, ids[299]: 3.0, new_id: 4.0}

    on_two = await asyncio.to_thread(
        products.batch_upsert,
        [{"fields": product(7, Price=7.0)}],
        key_fields=["External ID", "Name"],
    )
    assert on_two["updatedRecords"] == [ids[6]] and on_two["createdRecords"] == []
    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(
            products.batch_upsert, [{"fields": product(7)}], key_fields=["External ID"]
        )
    assert error_of(raised)[0] == 422

    on_price = await asyncio.to_thread(
        products.batch_upsert,
        [{"fields": {"External ID": "renamed-200", "Price": 300.0}}],
        key_fields=["Price"],
    )
    assert on_price["updatedRecords"] == [ids[199]]
    everything = await asyncio.to_thread(products.all)
    assert [r["id"] for r in everything] == [*ids, everything[300]["id"], new_id]
    assert everything[199]["fields"]["External ID"] == "renamed-200"
    first = await asyncio.to_thread(products.all, max_records=150)
    assert [r["id"] for r in first] == ids[:150]


async def test_patch_merges_and_put_replaces(products):
    record = await asyncio.to_thread(products.create, product(1, Description="Blue"))

    merged = await asyncio.to_thread(products.update, record["id"], {"Price": 2.0})
    replaced = await asyncio.to_thread(
        products.update, record["id"], {"Name": "Renamed"}, replace=True
    )

    assert merged["fields"]["Description"] == "Blue" and merged["fields"]["Price"] == 2.0
    assert replaced["fields"] == {"Name": "Renamed"}


async def test_cells_are_checked_by_field_type_and_typecast_adds_options(products):
    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(products.create, product(1, Status="archived"))
    assert error_of(raised)[1]["type"] == "INVALID_MULTIPLE_CHOICE_OPTIONS"
    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(products.create, product(1, Price="12.50"))
    assert error_of(raised)[1]["type"] == "INVALID_VALUE_FOR_COLUMN"

    cast = product(1, Status="archived", Price="12.50", Tags="new, sale", Launched="2024-05-01")
    record = await asyncio.to_thread(products.create, cast, typecast=True)
    attached = await asyncio.to_thread(
        products.update, record["id"], {"Images": [{"url": "https://cdn.example.com/p/1.jpg"}]}
    )

    assert record["fields"]["Price"] == 12.5 and record["fields"]["Tags"] == ["new", "sale"]
    status = (await asyncio.to_thread(products.schema, force=True)).field("Status")
    assert [c.name for c in status.options.choices] == ["active", "draft", "archived"]
    [image] = attached["fields"]["Images"]
    assert image["id"].startswith("att") and image["filename"] == "1.jpg"
    assert image["type"] == "image/jpeg"


async def test_an_unknown_field_is_rejected_by_name(products):
    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(products.create, product(1, Colour="red"))

    assert error_of(raised) == (
        422,
        {"type": "UNKNOWN_FIELD_NAME", "message": 'Unknown field name: "Colour"'},
    )


async def test_request_limits_are_airtables(products, live_gateway):
    url = f"{live_gateway.url}/sandbox/airtable/v0/{products.base.id}/Products"
    headers = {"Authorization": f"Bearer {products.api.api_key}"}
    async with httpx.AsyncClient(headers=headers) as client:
        eleven = {"records": [{"fields": product(n)} for n in range(11)]}
        too_many = await client.post(url, json=eleven)
        too_large = await client.get(url, params={"pageSize": 101})
        huge = await client.post(url, content=b'{"records": "' + b"x" * 3_000_000 + b'"}')

    assert too_many.status_code == 422 and too_many.json()["error"]["type"] == "INVALID_RECORDS"
    assert too_large.status_code == 422
    assert huge.status_code == 413
    assert await asyncio.to_thread(products.all) == []


async def test_delete_removes_records(products):
    created = await asyncio.to_thread(products.batch_create, [product(n) for n in range(1, 4)])

    deleted = await asyncio.to_thread(products.batch_delete, [r["id"] for r in created[:2]])

    assert deleted == [{"id": r["id"], "deleted": True} for r in created[:2]]
    assert [r["id"] for r in await asyncio.to_thread(products.all)] == [created[2]["id"]]
    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(products.get, created[0]["id"])
    assert error_of(raised)[0] == 404
    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(products.delete, created[0]["id"])
    assert error_of(raised)[1]["type"] == "ROW_DOES_NOT_EXIST"


@pytest.mark.parametrize("airtable_rate", [(5.0, 1.0)])
async def test_a_burst_over_five_requests_a_second_is_locked_out_for_the_penalty(
    products, live_gateway
):
    url = f"{live_gateway.url}/sandbox/airtable/v0/{products.base.id}/Products"
    headers = {"Authorization": f"Bearer {products.api.api_key}"}
    async with httpx.AsyncClient(headers=headers) as client:
        # Sent together, so a slow (loaded) machine cannot refill the bucket between them.
        burst = [r.status_code for r in await asyncio.gather(*(client.get(url) for _ in range(10)))]
        locked_at = time.monotonic()
        await asyncio.sleep(0.5)
        during_penalty = await client.get(url)
        await asyncio.sleep(max(0.0, locked_at + 1.1 - time.monotonic()))
        after_penalty = await client.get(url)

    # Five tokens, plus at most one refilled while the ten arrive; the rest are locked out.
    assert burst.count(200) in (5, 6) and set(burst) == {200, 429}
    assert during_penalty.status_code == 429
    assert during_penalty.json()["error"]["type"] == "RATE_LIMIT_REACHED"
    assert after_penalty.status_code == 200


async def test_a_client_cannot_see_another_clients_base(products, live_gateway, services):
    other = await create_tenant(services, "Globex", "test")
    intruder = airtable_api(live_gateway, other.secret)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {other.secret}"}) as client:
        root = f"{live_gateway.url}/sandbox/airtable/v0"
        theirs = await client.get(f"{root}/{products.base.id}/Products")
        missing = await client.get(f"{root}/appDOESNOTEXIST00/Products")
        theirs_schema = await client.get(f"{root}/meta/bases/{products.base.id}/tables")

    assert await asyncio.to_thread(intruder.bases) == []
    assert theirs.status_code == missing.status_code == theirs_schema.status_code == 403
    assert theirs.json() == missing.json() == theirs_schema.json()
    assert theirs.json()["error"]["type"] == "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"


async def test_only_a_test_key_opens_the_sandbox(live_gateway, services):
    live = await create_tenant(services, "Acme", "live")
    url = f"{live_gateway.url}/sandbox/airtable/v0/meta/bases"
    async with httpx.AsyncClient() as client:
        answers = [
            await client.get(url, headers={"Authorization": f"Bearer {live.secret}"}),
            await client.get(url, headers={"Authorization": "Bearer patNotAGatewayKey"}),
            await client.get(url),
        ]

    assert {answer.status_code for answer in answers} == {401}
    assert {answer.json()["error"]["type"] for answer in answers} == {"AUTHENTICATION_REQUIRED"}
