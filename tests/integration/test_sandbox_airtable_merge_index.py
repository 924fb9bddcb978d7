"""The emulator's upsert finds its matches through an index of the merge field's cells: the index
follows every write (an id-addressed PATCH that renames the merge value, a PUT that clears it, a
delete), and a text too long for it still matches by the table scan. Driven by pyairtable."""

import asyncio

import requests
from sqlalchemy import func, select

from app.sandbox.airtable.merge_index import MAX_TEXT, MergeKey
from app.services import Services
from tests.integration import test_sandbox_airtable as sandbox
from tests.integration.test_sandbox_airtable import product

# The sandbox suite's fixtures: a served gateway and a Products table reached with pyairtable.
airtable_rate, settings, api, products = (
    sandbox.airtable_rate,
    sandbox.settings,
    sandbox.api,
    sandbox.products,
)


async def _keys(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(MergeKey)) or 0)


async def _upsert(products, *records):
    return await asyncio.to_thread(
        products.batch_upsert, [{"fields": r} for r in records], key_fields=["External ID"]
    )


async def test_the_merge_index_follows_renames_clears_and_deletes(products, services):
    created = await asyncio.to_thread(products.batch_create, [product(n) for n in range(1, 21)])
    ids = [r["id"] for r in created]
    assert await _keys(services) == 0  # nothing merged on yet: nothing indexed

    first = await _upsert(products, product(3, Price=3.5))
    assert first["updatedRecords"] == [ids[2]] and first["createdRecords"] == []
    assert await _keys(services) == 20  # the field's cells, copied at its first upsert

    # Renamed by id: the old value no longer matches, the new one does.
    await asyncio.to_thread(products.update, ids[4], {"External ID": "woo-5"})
    renamed = await _upsert(products, product(5, **{"External ID": "woo-5", "Price": 9.0}))
    assert renamed["updatedRecords"] == [ids[4]]
    again = await _upsert(products, product(5))
    assert again["createdRecords"] and again["updatedRecords"] == []

    # Replaced without the merge field (PUT): it is no longer found by it.
    await asyncio.to_thread(products.update, ids[6], {"Name": "Cleared"}, replace=True)
    cleared = await _upsert(products, product(7))
    assert cleared["createdRecords"] and cleared["updatedRecords"] == []

    # Deleted: its key goes with it.
    await asyncio.to_thread(products.delete, ids[8])
    deleted = await _upsert(products, product(9))
    assert deleted["createdRecords"] and deleted["updatedRecords"] == []

    # Two records holding one value: still refused, as Airtable does.
    await asyncio.to_thread(products.create, product(300, **{"External ID": "shopify-10"}))
    try:
        await _upsert(products, product(10))
        raise AssertionError("two matches were accepted")
    except requests.HTTPError as raised:
        assert raised.response.status_code == 422

    everything = await asyncio.to_thread(products.all)
    held = sorted(r["fields"].get("External ID", "") for r in everything)
    assert len(held) == len(set(held)) + 1  # only the deliberate shopify-10 twin


async def test_a_merge_text_longer_than_the_index_still_matches(products, services):
    long_id = "x" * (MAX_TEXT + 10)
    await _upsert(products, product(1))  # the field is indexed from here on
    made = await _upsert(products, product(2, **{"External ID": long_id}))
    assert made["createdRecords"]
    found = await _upsert(products, product(2, **{"External ID": long_id, "Price": 4.0}))
    assert found["updatedRecords"] == made["createdRecords"] and found["createdRecords"] == []
    mixed = await _upsert(
        products, product(1, Price=1.25), product(2, **{"External ID": long_id, "Price": 5.0})
    )
    assert mixed["createdRecords"] == [] and len(mixed["updatedRecords"]) == 2
