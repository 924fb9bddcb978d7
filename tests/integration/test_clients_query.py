"""Operators list clients: newest first, paged and searched on the server, each with its
onboarding status, last job and open quarantine in the operator key's mode, for a constant number
of statements per page."""

from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from app.ids import new_id
from app.provisioning.models import AmsProvisioning
from app.tenancy.models import KeyMode
from tests.conftest import create_tenant
from tests.helpers import drain, ingest_mutation, shopify_product
from tests.integration.test_key_lifecycle import operator_key

CLIENTS = """
query($first: Int!, $after: String, $search: String) {
  clients(first: $first, after: $after, search: $search) {
    nodes { id name createdAt onboardingStatus lastJobAt openQuarantineCount }
    pageInfo { hasNextPage endCursor }
  }
}"""
NEWEST_JOB = "{ jobs(first: 1) { nodes { id createdAt } } }"
QUARANTINE = "{ quarantine { nodes { id } } }"
DISCARD = "mutation($ids: [ID!]) { discardQuarantined(ids: $ids) { discarded errors { code } } }"


async def _clients(gql, key: str, first: int = 50, after=None, search=None) -> dict[str, Any]:
    variables = {"first": first, "after": after, "search": search}
    return dict((await gql(CLIENTS, variables, key=key))["clients"])


async def _push_bad_products(gql, tenant, count: int) -> None:
    bad = [{**shopify_product(n), "price": {"amount": "free"}} for n in range(count)]
    pushed = await gql(ingest_mutation("product"), {"input": {"records": bad}}, key=tenant.secret)
    assert pushed["ingestProducts"]["errors"] == [], pushed


async def _connected(services, client_id: str, livemode: bool) -> None:
    """The onboarding state provisioning leaves behind (provisioning itself: test_provisioning;
    here the sandbox is not served, so the AMS sync after a job leaves a failed attempt)."""
    now = datetime.now(UTC)
    async with services.sessions() as session, session.begin():
        row = await session.scalar(
            select(AmsProvisioning).where(
                AmsProvisioning.client_id == client_id, AmsProvisioning.livemode == livemode
            )
        )
        if row is None:
            row = AmsProvisioning(
                id=new_id("prv"), client_id=client_id, livemode=livemode, folder_ids={},
                permission_ids={}, config_version=1, created_at=now,
            )  # fmt: skip
            session.add(row)
        row.status, row.provisioned_at, row.updated_at = "provisioned", now, now
        row.onboarding_status, row.connected_at = "connected", now


async def test_operators_page_through_every_client_newest_first(gql, services):
    made = [(await create_tenant(services, f"Client {n}")).client_id for n in range(5)]
    operator = await operator_key(services)

    seen, after, pages = [], None, 0
    while True:
        page = await _clients(gql, operator, first=2, after=after)
        seen += [node["id"] for node in page["nodes"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(made)) and pages == 3

    bad_page = await gql.raw(CLIENTS, {"first": 0}, key=operator)
    assert bad_page.json()["errors"][0]["extensions"]["code"] == "invalid_page_size"
    bad_cursor = await gql.raw(CLIENTS, {"first": 2, "after": "nope!"}, key=operator)
    assert bad_cursor.json()["errors"][0]["extensions"]["code"] == "invalid_cursor"


async def test_search_matches_the_start_of_a_name_in_any_case_or_of_an_id(gql, services):
    shoes = await create_tenant(services, "Acme Shoes")
    hats = await create_tenant(services, "acme hats")
    await create_tenant(services, "Shoe Palace Acme")
    percent = await create_tenant(services, "100% Cotton")
    await create_tenant(services, "1000 Cottons")
    operator = await operator_key(services)

    async def found(search: str) -> list[str]:
        return [node["id"] for node in (await _clients(gql, operator, search=search))["nodes"]]

    assert await found("ACME") == [hats.client_id, shoes.client_id]
    assert await found("  acme s ") == [shoes.client_id]  # trimmed at the ends only
    assert await found(shoes.client_id[:-3].upper()) == [shoes.client_id]
    assert await found("100%") == [percent.client_id]  # % is a character, not a wildcard
    assert await found("Palace") == []  # a prefix, not a substring
    assert len(await found("")) == 5

    too_long = await gql.raw(CLIENTS, {"first": 5, "search": "x" * 201}, key=operator)
    error = too_long.json()["errors"][0]["extensions"]
    assert error["code"] == "invalid_search" and error["errors"][0]["path"] == "search"


async def test_summaries_count_the_operator_key_s_mode(gql, services):
    busy = await create_tenant(services, "Busy")
    idle = await create_tenant(services, "Idle")
    await _push_bad_products(gql, busy, 3)
    await drain(services)
    held = (await gql(QUARANTINE, key=busy.secret))["quarantine"]["nodes"]
    discarded = await gql(DISCARD, {"ids": [held[0]["id"]]}, key=busy.secret)
    assert discarded["discardQuarantined"]["discarded"] == 1
    newest = (await gql(NEWEST_JOB, key=busy.secret))["jobs"]["nodes"][0]
    await _connected(services, busy.client_id, livemode=False)

    test_operator = await operator_key(services)
    nodes = {n["id"]: n for n in (await _clients(gql, test_operator))["nodes"]}
    assert nodes[busy.client_id] == {
        "id": busy.client_id,
        "name": "Busy",
        "createdAt": nodes[busy.client_id]["createdAt"],
        "onboardingStatus": "CONNECTED",
        "lastJobAt": newest["createdAt"],
        "openQuarantineCount": 2,  # the discarded one is no longer open
    }
    assert nodes[idle.client_id]["onboardingStatus"] is None
    assert nodes[idle.client_id]["lastJobAt"] is None
    assert nodes[idle.client_id]["openQuarantineCount"] == 0

    live_operator = await operator_key(services, mode=KeyMode.LIVE)
    live = {n["id"]: n for n in (await _clients(gql, live_operator))["nodes"]}
    assert live[busy.client_id]["onboardingStatus"] is None  # test data stays out of live
    assert live[busy.client_id]["lastJobAt"] is None
    assert live[busy.client_id]["openQuarantineCount"] == 0


async def test_a_page_costs_the_same_statements_however_many_clients_it_holds(gql, services):
    for number in range(5):
        tenant = await create_tenant(services, f"Client {number}")
        await _push_bad_products(gql, tenant, 1)
    await drain(services)
    for node in (await _clients(gql, await operator_key(services)))["nodes"]:
        await _connected(services, node["id"], livemode=False)
    operator = await operator_key(services)
    await _clients(gql, operator, first=1)  # the key is verified and cached once

    # Only this request's statements: background work (metering, AMS sync) runs in other tasks.
    counting: ContextVar[bool] = ContextVar("counting", default=False)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        # Authentication reads the key unless the key cache still holds it: not the listing's.
        if counting.get() and statement != "BEGIN" and "api_keys" not in statement:
            statements.append(statement)

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    token = counting.set(True)
    try:
        one = await _clients(gql, operator, first=1)
        per_one = len(statements)
        statements.clear()
        five = await _clients(gql, operator, first=5)
        per_five = len(statements)
    finally:
        counting.reset(token)
        event.remove(engine, "before_cursor_execute", count)
    assert len(one["nodes"]) == 1 and len(five["nodes"]) == 5
    assert all(node["openQuarantineCount"] == 1 for node in five["nodes"])
    assert per_one == per_five == 2, statements  # the page, then the page's summaries


async def test_an_operator_key_without_the_read_scope_is_refused(gql, services, tenant):
    auditor = await operator_key(services, scopes=["audit:read"])
    response = await gql.raw(CLIENTS, {"first": 5}, key=auditor)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "insufficient_scope"
    refused = await gql.raw(CLIENTS, {"first": 5}, key=tenant.secret)
    assert refused.json()["errors"][0]["extensions"]["code"] == "operator_only"
