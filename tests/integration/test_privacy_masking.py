"""Personal fields in every API read of audience data are masked unless the key holds `pii:read`:
stored records, linked records, a fix's stored record, webhook notices; subject access needs
`pii:read`; a fixed quarantined record of a suppressed person is held back like a replayed one."""

from typing import Any

from app.privacy.identifiers import IdentifierKind, Subject
from app.privacy.service import erase_subject
from app.tenancy.models import KeyMode, Principal
from tests.conftest import GraphQL, Tenant
from tests.helpers import (
    drain,
    ingest_mutation,
    personal_key,
    shopify_product,
)
from tests.integration.test_webhooks import (
    HUBSPOT_SECRET,
    connect,
    hubspot_v3_headers,
    path_of,
)

ADA: dict[str, Any] = {
    "external_id": "cus-1001",
    "source_platform": "shopify",
    "source_updated_at": "2026-11-01T10:00:00Z",
    "email": "ada.lovelace@example.com",
    "phone": "+442079460018",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "city": "London",
    "country": "GB",
    "email_consent": "subscribed",
    "attributes": {"loyalty_tier": "gold"},
}
MASKED_ADA = {
    "email": "a***@e***.com",
    "phone": "+44********18",
    "first_name": "A***",
    "last_name": "L***",
    "city": "L***",
    "attributes": {"loyalty_tier": "g***"},
}
PERSONAL = ("email", "phone", "first_name", "last_name", "city", "attributes")
RECORDS = "{ records(entity: AUDIENCE) { nodes { externalId data } } }"
FIX = """mutation Fix($id: ID!, $patch: JSONObject!) {
  fixQuarantinedRecord(id: $id, patch: $patch) {
    record { externalId data } quarantinedRecord { status errors { code } } errors { code }
  }
}"""
EXPORT = """query { exportSubject(input: {email: "ada.lovelace@example.com"}) {
  subject errors { code }
} }"""


async def push(gql: GraphQL, services: Any, tenant: Tenant, records: list[Any]) -> None:
    pushed = await gql(
        ingest_mutation("audience"), {"input": {"records": records}}, key=tenant.secret
    )
    assert pushed["ingestAudience"]["errors"] == [], pushed
    await drain(services)


def personal_of(data: dict[str, Any]) -> dict[str, Any]:
    return {field: data[field] for field in PERSONAL}


async def test_stored_records_show_personal_fields_masked_without_pii_read(
    api, gql, services, tenant
):
    await push(gql, services, tenant, [ADA])
    products = {"input": {"records": [shopify_product(1)]}}
    await gql(ingest_mutation("product"), products, key=tenant.secret)
    await drain(services)

    (masked,) = (await gql(RECORDS, key=tenant.secret))["records"]["nodes"]
    assert masked["externalId"] == "cus-1001"
    assert personal_of(masked["data"]) == MASKED_ADA
    assert (masked["data"]["country"], masked["data"]["email_consent"]) == ("GB", "subscribed")

    revealed = await gql(RECORDS, key=await personal_key(services, tenant))
    assert personal_of(revealed["records"]["nodes"][0]["data"]) == personal_of(ADA)

    product = await gql("{ records(entity: PRODUCT) { nodes { data } } }", key=tenant.secret)
    assert "***" not in str(product["records"]["nodes"][0]["data"])  # nothing personal there


async def test_a_linked_record_and_its_members_are_masked_without_pii_read(
    api, gql, services, tenant
):
    policy = await gql(
        'mutation { setConflictPolicy(input: {entity: AUDIENCE, identity: "email"}) '
        "{ errors { code } } }",
        key=tenant.secret,
    )
    assert policy["setConflictPolicy"]["errors"] == []
    hubspot_copy = {**ADA, "source_platform": "hubspot", "external_id": "5101"}
    await push(gql, services, tenant, [ADA, hubspot_copy])
    query = """{ linkedRecord(entity: AUDIENCE, identity: "ada.lovelace@example.com") {
      data members { data } } }"""

    masked = (await gql(query, key=tenant.secret))["linkedRecord"]
    assert personal_of(masked["data"]) == MASKED_ADA
    assert [personal_of(m["data"]) for m in masked["members"]] == [MASKED_ADA, MASKED_ADA]

    revealed = (await gql(query, key=await personal_key(services, tenant)))["linkedRecord"]
    assert personal_of(revealed["data"]) == personal_of(ADA)
    assert [m["data"]["email"] for m in revealed["members"]] == [ADA["email"]] * 2


async def test_a_fixed_record_is_answered_masked_without_pii_read(api, gql, services, tenant):
    second = {**ADA, "external_id": "cus-1002", "country": "Atlantis"}
    broken = [{**ADA, "country": "Narnia"}, second]
    await push(gql, services, tenant, broken)
    held = await gql("{ quarantine { nodes { id externalId } } }", key=tenant.secret)
    ids = {node["externalId"]: node["id"] for node in held["quarantine"]["nodes"]}

    fixed = await gql(FIX, {"id": ids["cus-1001"], "patch": {"country": "GB"}}, key=tenant.secret)
    record = fixed["fixQuarantinedRecord"]["record"]
    assert record["externalId"] == "cus-1001"
    assert personal_of(record["data"]) == MASKED_ADA

    key = await personal_key(services, tenant)
    fixed = await gql(FIX, {"id": ids["cus-1002"], "patch": {"country": "GB"}}, key=key)
    assert fixed["fixQuarantinedRecord"]["record"]["data"]["email"] == ADA["email"]


async def test_webhook_notice_payloads_are_masked_without_pii_read(api, gql, services, tenant):
    connection = await connect(gql, tenant, "hubspot", HUBSPOT_SECRET)
    url = connection["url"].replace("http://127.0.0.1:8000", "http://gateway.test")
    body = hubspot_email_change(7001, 5101, ADA["email"])
    delivered = await api.post(
        path_of(connection), content=body, headers=hubspot_v3_headers(url, body)
    )
    assert delivered.status_code == 202, delivered.text
    query = "{ webhookNotices { nodes { objectId payload } } }"

    (masked,) = (await gql(query, key=tenant.secret))["webhookNotices"]["nodes"]
    assert masked["objectId"] == "5101"
    assert masked["payload"]["propertyValue"] == "a***@e***.com"
    assert (masked["payload"]["objectId"], masked["payload"]["propertyName"]) == (5101, "email")
    assert masked["payload"]["changeSource"] == "CRM"  # the event's own fields stay readable
    assert ADA["email"] not in str(masked)

    key = await personal_key(services, tenant)
    (revealed,) = (await gql(query, key=key))["webhookNotices"]["nodes"]
    assert revealed["payload"]["propertyValue"] == ADA["email"]


def hubspot_email_change(event_id: int, object_id: int, email: str) -> bytes:
    import json

    event = {
        "eventId": event_id,
        "subscriptionId": 2881779,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": 1761991200000,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": object_id,
        "propertyName": "email",
        "propertyValue": email,
        "changeSource": "CRM",
    }
    return json.dumps([event]).encode()


async def test_subject_access_needs_the_pii_read_scope(api, gql, services, tenant):
    await push(gql, services, tenant, [ADA])

    refused = await gql.raw(EXPORT, key=tenant.secret)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "insufficient_scope"
    assert ADA["email"] not in refused.text

    allowed = await gql(EXPORT, key=await personal_key(services, tenant))
    (record,) = allowed["exportSubject"]["subject"]["canonical_records"]
    assert record["data"]["email"] == ADA["email"]


async def test_a_fix_of_a_suppressed_persons_record_is_held_back(api, gql, services, tenant):
    turned_on = await gql(
        "mutation { setPrivacySettings(suppressErased: true) { suppressErased } }",
        key=tenant.secret,
    )
    assert turned_on["setPrivacySettings"]["suppressErased"] is True
    await push(gql, services, tenant, [ADA])
    caller = Principal(tenant.key_id, tenant.client_id, KeyMode.TEST)
    erased = await erase_subject(services, caller, Subject(IdentifierKind.EMAIL, ADA["email"]))
    assert erased.completed

    await push(gql, services, tenant, [{**ADA, "country": "Narnia"}])  # held for its country
    (entry,) = (await gql("{ quarantine { nodes { id } } }", key=tenant.secret))["quarantine"][
        "nodes"
    ]
    fixed = await gql(FIX, {"id": entry["id"], "patch": {"country": "GB"}}, key=tenant.secret)

    answer = fixed["fixQuarantinedRecord"]
    assert answer["record"] is None
    assert answer["quarantinedRecord"]["status"] == "OPEN"
    assert [e["code"] for e in answer["quarantinedRecord"]["errors"]] == ["subject_suppressed"]
    assert (await gql(RECORDS, key=tenant.secret))["records"]["nodes"] == []

    await gql(
        "mutation { setPrivacySettings(suppressErased: false) { suppressErased } }",
        key=tenant.secret,
    )
    lifted = await gql(FIX, {"id": entry["id"], "patch": {}}, key=tenant.secret)
    assert lifted["fixQuarantinedRecord"]["record"]["externalId"] == "cus-1001"
