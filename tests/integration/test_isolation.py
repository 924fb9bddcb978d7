"""Tenant walls, proved over the whole API surface: every GraphQL root field and every REST route
is listed here (a new one fails the coverage test until it is classified). As client B:
- a field or route taking an id answers for client A's id exactly as for an id that never
  existed (same status, same body once the id itself is masked);
- every other read shows nothing of A (none of A's ids, external ids or secrets appear);
- operator-only fields refuse client keys.
"""

import re
from typing import Any

import pytest

from app.api.graphql.schema import schema
from app.ids import new_id
from graphql import (
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
)
from tests.conftest import create_tenant
from tests.helpers import drain, ingest_mutation, shopify_product
from tests.integration.test_privacy_masking import personal_key
from tests.integration.test_webhooks import SHOPIFY_SECRET, connect, path_of, shopify_headers

# Fields that take one of A's ids: the argument text, with ID standing for the probed id.
ID_PROBES: dict[str, tuple[str, str]] = {
    # field: (arguments, which of A's ids)
    "job": ("(id: ID)", "job"),
    "quarantinedRecord": ("(id: ID)", "quarantined"),
    "quarantine": ("(filter: {jobId: ID})", "job"),
    "eventDeliveries": ("(endpointId: ID)", "endpoint"),
    "fixQuarantinedRecord": ("(id: ID, patch: {})", "quarantined"),
    "replayQuarantined": ("(ids: [ID])", "quarantined"),
    "discardQuarantined": ("(ids: [ID])", "quarantined"),
    "updateWebhookEndpoint": ("(input: {id: ID, enabled: false})", "endpoint"),
    "rotateWebhookEndpointSecret": (
        "(input: {id: ID, previousSecretValidForSeconds: 0})",
        "endpoint",
    ),
    "deleteWebhookEndpoint": ("(input: {id: ID})", "endpoint"),
    "acknowledgeWebhookNotices": ("(input: {ids: [ID]})", "notice"),
    "replayEvents": ("(input: {eventIds: [ID]})", "event"),
}
# Reads scoped to the caller's own tenant, with the arguments they need.
OWN_READS: dict[str, str] = {
    "viewer": "",
    "jobs": "",
    "records": "(entity: PRODUCT)",
    "syncHealth": "",
    "webhookConnections": "",
    "webhookNotices": "",
    "eventTypes": "",
    "webhookEndpoints": "",
    "events": "",
    "recordResolutions": "(entity: AUDIENCE)",  # conflicts
    "linkedRecord": '(entity: PRODUCT, identity: "SKU-1")',  # conflicts
    "exportSubject": '(input: {externalId: "1001"})',  # privacy: A's people are not found
    "privacySettings": "",  # privacy
    "fullResyncs": "",  # archival
}
PERSONAL_READS = {"exportSubject"}  # privacy: read by B with a key holding pii:read
OPERATOR_ONLY = {"apiKeys", "usageReport", "auditEvents", "createApiKey", "revokeApiKey",
                 "rotateApiKey",
                 "setRateLimit", "clearRateLimit",
                 "amsCredentials", "setAmsCredentials", "clearAmsCredentials",
                 "reconciliationRuns", "reconciliationRun", "reconcile",
                 "clients"}  # fmt: skip
# Writes that only ever create or change the caller's own data (nothing of A's to name).
OWN_WRITES = {
    "ingestProducts", "ingestAssets", "ingestCampaigns", "ingestAudience", "ingestRaw",
    "provisionClient", "reportSyncRun", "reportConnectionHealth", "setWebhookSecret",
    "createWebhookEndpoint", "setValidationRules",
    "setFieldMapping", "setConflictPolicy",  # field mappings, conflicts
    "setRetentionPolicy",  # retention
    "eraseSubject", "setPrivacySettings",  # privacy: B's erasure finds only B's people
    "archiveRecords", "requestFullResync", "completeFullResync",  # archival: B's keys only
}  # fmt: skip
OPERATOR_ARGUMENTS = {"usageReport": '(from: "2026-01-01", to: "2026-01-02")'}
OPERATOR_ARGUMENTS["setRateLimit"] = '(input: {client: "cli_x", requestsPerSecond: 1, burst: 1})'
OPERATOR_ARGUMENTS["clearRateLimit"] = '(input: {client: "cli_x"})'  # rate limits
OPERATOR_ARGUMENTS["amsCredentials"] = '(client: "cli_x")'  # AMS credentials
OPERATOR_ARGUMENTS["setAmsCredentials"] = '(input: {client: "cli_x", airtable: {token: "pat"}})'
OPERATOR_ARGUMENTS["clearAmsCredentials"] = '(input: {client: "cli_x"})'
OPERATOR_ARGUMENTS["reconciliationRuns"] = '(client: "cli_x")'  # reconciliation
OPERATOR_ARGUMENTS["reconciliationRun"] = '(id: "rcn_x")'
OPERATOR_ARGUMENTS["reconcile"] = '(input: {client: "cli_x", entity: PRODUCT})'


def _root_fields() -> dict[str, GraphQLField]:
    graphql_schema = schema._schema
    assert graphql_schema.query_type and graphql_schema.mutation_type
    return {**graphql_schema.query_type.fields, **graphql_schema.mutation_type.fields}


def _selection(field: GraphQLField, depth: int = 3) -> str:
    """Every leaf reachable without required arguments, a few levels deep."""
    named = get_named_type(field.type)
    if is_leaf_type(named):
        return ""
    assert isinstance(named, GraphQLObjectType)
    parts = []
    for name, child in named.fields.items():
        required = any(
            isinstance(arg.type, GraphQLNonNull) and arg.default_value is None
            for arg in child.args.values()
        )
        child_type = get_named_type(child.type)
        if required:
            continue
        if is_leaf_type(child_type):
            parts.append(name)
        elif depth > 1:
            inner = _selection(child, depth - 1)
            if inner:
                parts.append(f"{name} {inner}")
    return "{ " + " ".join(parts) + " }" if parts else ""


def _operation(name: str, arguments: str) -> str:
    kind = "mutation" if name in schema._schema.mutation_type.fields else "query"  # type: ignore[union-attr]
    return f"{kind} {{ {name}{arguments} {_selection(_root_fields()[name])} }}"


def test_every_root_field_is_classified():
    classified = set(ID_PROBES) | set(OWN_READS) | OPERATOR_ONLY | OWN_WRITES
    assert set(_root_fields()) == classified, (
        f"classify new fields here: {sorted(set(_root_fields()) - classified)}; "
        f"gone: {sorted(classified - set(_root_fields()))}"
    )


@pytest.fixture
async def walls(api, gql, services, tenant):
    """Client A (the `tenant`) with something of every kind; client B with nothing."""
    a = tenant
    b = await create_tenant(services, "Client B")
    bad = {**shopify_product(2), "price": {"amount": "free"}}
    pushed = await gql(
        ingest_mutation("product"), {"input": {"records": [shopify_product(1), bad]}}, key=a.secret
    )
    endpoint = await gql(
        'mutation { createWebhookEndpoint(input: {url: "http://127.0.0.1:9/hook", '
        'eventTypes: ["job.completed"]}) { endpoint { id } secret errors { code } } }',
        key=a.secret,
    )
    await drain(services)
    connection = await connect(gql, a, "shopify", SHOPIFY_SECRET)
    body = b'{"id": 450789469}'
    delivered = await api.post(
        path_of(connection),
        content=body,
        headers=shopify_headers(body, topic="orders/create", event_id="iso-1"),
    )
    held = await gql("{ quarantine { nodes { id } } }", key=a.secret)
    events = await gql("{ events { nodes { id } } }", key=a.secret)
    ids = {
        "job": pushed["ingestProducts"]["job"]["id"],
        "quarantined": held["quarantine"]["nodes"][0]["id"],
        "endpoint": endpoint["createWebhookEndpoint"]["endpoint"]["id"],
        "notice": delivered.json()["notice_ids"][0],
        "event": events["events"]["nodes"][0]["id"],
        "connection": connection["id"],
    }
    secrets = [a.secret, endpoint["createWebhookEndpoint"]["secret"], SHOPIFY_SECRET]
    return a, b, ids, secrets


def _absent_like(an_id: str) -> str:
    return new_id(an_id.split("_", 1)[0])


def _masked(body: Any, an_id: str) -> str:
    text = str(body).replace(an_id, "<ID>")
    return re.sub(r"req_[0-9a-z]+", "<REQ>", text)


async def _probe(gql, key: str, name: str, an_id: str) -> Any:
    arguments, _ = ID_PROBES[name]
    operation = _operation(name, arguments.replace("ID", f'"{an_id}"'))
    response = await gql.raw(operation, key=key)
    return response.status_code, response.json()


async def test_a_clients_ids_answer_like_ids_that_never_existed(gql, walls):
    a, b, ids, _ = walls
    for name, (_, kind) in ID_PROBES.items():
        theirs = await _probe(gql, b.secret, name, ids[kind])
        absent_id = _absent_like(ids[kind])
        absent = await _probe(gql, b.secret, name, absent_id)
        assert _masked(theirs, ids[kind]) == _masked(absent, absent_id), name
        mine = await _probe(gql, a.secret, name, ids[kind])
        assert _masked(mine, ids[kind]) != _masked(theirs, ids[kind]), (
            f"{name}: the probe must reach data for its owner, or it proves nothing"
        )


async def test_reads_show_nothing_of_another_client(gql, services, walls):
    a, b, ids, secrets = walls
    b_personal = await personal_key(services, b)  # reads that need pii:read (PERSONAL_READS)
    for name, arguments in OWN_READS.items():
        key = b_personal if name in PERSONAL_READS else b.secret
        response = await gql.raw(_operation(name, arguments), key=key)
        assert response.status_code == 200, (name, response.text)
        for leaked in [*ids.values(), *secrets, a.client_id, "shopify-1"]:
            assert leaked not in response.text, (name, leaked)


async def test_operator_only_fields_refuse_client_keys(gql, walls):
    b = walls[1]
    for name in sorted(OPERATOR_ONLY):
        field = _root_fields()[name]
        arguments = OPERATOR_ARGUMENTS.get(name, "")
        if name == "createApiKey":
            arguments = f'(input: {{clientId: "{b.client_id}", mode: TEST}})'
        elif name == "revokeApiKey":
            arguments = f'(id: "{b.key_id}")'
        elif name == "rotateApiKey":
            arguments = f'(input: {{id: "{b.key_id}"}})'
        assert field is not None
        response = await gql.raw(_operation(name, arguments), key=b.secret)
        assert response.status_code == 403, (name, response.text)
        assert response.json()["errors"][0]["extensions"]["code"] == "operator_only", name


REST_ID_ROUTES = ["/jobs/{id}", "/jobs/{id}/errors"]
REST_OTHER_ROUTES = {
    "/jobs": "own reads, listed below",
    "/ingest/{entity}": "writes only to the caller's tenant",
    "/ingest/{entity}/archive": "archives only the caller's own records (A's keys: not_found)",
    "/contracts/{name}": "the published contract files: public, nobody's data",
    "/webhooks/{source}/{connection_id}": "no API key: the platform's signature with the "
    "connection's own secret is the credential (see test_webhooks)",
}


def test_every_rest_route_is_classified():
    from app.api.rest.openapi import published_openapi

    documented = {
        re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", path) for path in published_openapi()["paths"]
    }
    by_template = {re.sub(r"^/ingest/\w+$", "/ingest/{entity}", path) for path in documented}
    assert by_template == {*REST_ID_ROUTES, *REST_OTHER_ROUTES}


async def test_rest_ids_of_another_client_answer_like_absent_ids(api, walls):
    a, b, ids, _ = walls
    for route in REST_ID_ROUTES:
        theirs_id, absent_id = ids["job"], _absent_like(ids["job"])
        theirs = await api.get(route.replace("{id}", theirs_id), headers=b.headers)
        absent = await api.get(route.replace("{id}", absent_id), headers=b.headers)
        assert theirs.status_code == absent.status_code == 404, route
        assert _masked(theirs.json(), theirs_id) == _masked(absent.json(), absent_id), route
        mine = await api.get(route.replace("{id}", theirs_id), headers=a.headers)
        assert mine.status_code == 200, route
    listed = await api.get("/jobs", headers=b.headers)
    assert listed.json()["data"] == [] and ids["job"] not in listed.text
