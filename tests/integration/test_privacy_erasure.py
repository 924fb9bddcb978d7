"""Erasing a person and subject access, end to end: the gateway runs as a real HTTP server, its
AMS sync writes the Audience table of the sandbox base through pyairtable, and the test reads that
base with pyairtable too. After an erasure nothing of the person is left in any table the test can
query; a run cut short (Airtable unavailable) resumes; another client finds nobody."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from pyairtable import Api
from sqlalchemy import text, update

from app.ams.retries import AmsRecordRetry
from app.integrations.sandbox_tokens import sandbox_token
from app.privacy.identifiers import IdentifierKind, Subject
from app.privacy.models import ErasureRun
from app.privacy.service import carry_on, resume_unfinished, start_erasure
from app.services import Services
from app.settings import Settings
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode, Principal, Role
from tests.conftest import Tenant, create_tenant
from tests.helpers import ingest_mutation, served_gateway
from tests.integration.test_ams_sync import Gateway, ams_settings, eventually, viewer
from tests.integration.test_key_lifecycle import operator_key
from tests.integration.test_privacy_masking import hubspot_email_change, personal_key
from tests.integration.test_webhooks import HUBSPOT_SECRET, connect, hubspot_v3_headers, path_of

ADA_EMAIL = "Ada.Lovelace@Example.com"
ERASE = """mutation Erase($input: SubjectInput!) { eraseSubject(input: $input) {
  receipt { runId completed resumed totalRemoved error removed { place removed } }
  errors { code message path }
} }"""
EXPORT = """query Export($input: SubjectInput!) {
  exportSubject(input: $input) { subject errors { code message path } }
}"""
RAW = """mutation Raw($input: IngestRawInput!) {
  ingestRaw(input: $input) { job { id } errors { code message } }
}"""
JOB = "query($id: ID!) { job(id: $id) { status counters { quarantined written } } }"
FINAL = {"SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED"}
# Every column that could hold a pushed value; each is searched as text for the person's traces.
TABLES = {
    "canonical_records": ["data", "external_id"],
    "record_resolutions": ["external_id", "detail"],
    "staged_records": ["payload", "subject_email", "subject_external_id"],
    "quarantined_records": ["mapped", "external_id", "errors"],
    "record_errors": ["external_id", "message"],
    "ams_sync_records": ["external_id"],
    "events": ["body"],
    "audit_events": ["target_ids"],
    "privacy_erasure_runs": ["footprint"],
    "airtable_records": ["fields"],
    "webhook_notices": ["payload"],
    "archived_records": ["external_id"],
    "ams_record_retries": ["external_id", "error_message"],
    "reconciliation_mismatches": ["external_id"],
}
TRACES = ("lovelace", "cus-1001", "cus-1002")


# What finishing Ada's run removes when its first three steps ran already (ADA, ADA_BROKEN, BOB
# pushed): the first three places keep the counts of the steps that ran.
AFTER_THREE_STEPS = {
    "canonical_records": 1,
    "record_history": 0,
    "quarantine_entries": 1,
    "staged_records": 2,
    "record_errors": 1,
    "idempotency_keys": 1,
    "webhook_notices": 0,
    "archived_records": 0,
    "ams_record_retries": 0,
    "reconciliation_mismatches": 0,
    "ams_rows": 1,
    "ams_sync_records": 1,
}
ARCHIVE = """mutation($input: ArchiveRecordsInput!) {
  archiveRecords(input: $input) { archived errors { code message path } }
}"""
RECONCILE = """mutation($input: ReconcileInput!) { reconcile(input: $input) {
  errors { code message path } run { field mismatches(first: 10) { nodes { externalId } } }
} }"""


def audience(external_id: str, email: str, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "source_platform": "shopify",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "country": "GB",
        "email_consent": "subscribed",
        **extra,
    }


ADA = audience(
    "cus-1001",
    ADA_EMAIL.lower(),
    phone="+442079460018",
    email_consent="unsubscribed",  # kept on her HubSpot copy: a resolution in the record history
    consent_updated_at="2026-11-02T08:00:00Z",
)
ADA_BROKEN = audience("cus-1002", ADA_EMAIL, country="Narnia")  # quarantined
BOB = audience("cus-2001", "bob.marsh@example.com", first_name="Bob", last_name="Marsh")
ADA_HUBSPOT = {  # the same person, as HubSpot's contacts API returns her
    "id": "5101",
    "properties": {
        "email": ADA_EMAIL,
        "firstname": "Ada",
        "lastname": "Lovelace",
        "phone": "+44 20 7946 0018",
        "lastmodifieddate": "2026-11-01T10:00:00Z",
    },
    "createdAt": "2026-10-01T10:00:00Z",
    "updatedAt": "2026-11-01T10:00:00Z",
    "archived": False,
}


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(
        fast_sandbox_settings,
        ams_write_attempts=2,
        sandbox_airtable_fault_admin=True,  # /sandbox/airtable/_faults arms Airtable failures
        ams_circuit_cooldown_seconds=0.0,
        reconciliation_enabled=False,  # the audits the tests record are the operator's own
    )


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


async def finished(gateway: Gateway, tenant: Tenant, job_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        job = (await gateway.gql(JOB, {"id": job_id}, key=tenant.secret))["job"]
        return job if job["status"] in FINAL else None

    found: dict[str, Any] = await eventually(done)
    return found


async def push(
    gateway: Gateway, tenant: Tenant, records: list[dict[str, Any]], key: str | None = None
) -> dict[str, Any]:
    variables = {"input": {"records": records, "idempotencyKey": key}}
    data = await gateway.gql(ingest_mutation("audience"), variables, key=tenant.secret)
    payload: dict[str, Any] = data["ingestAudience"]
    assert payload["errors"] == [], payload
    await finished(gateway, tenant, payload["job"]["id"])
    return payload


async def push_hubspot(gateway: Gateway, tenant: Tenant, contact: dict[str, Any]) -> None:
    variables = {"input": {"platform": "HUBSPOT", "entity": "AUDIENCE", "records": [contact]}}
    data = await gateway.gql(RAW, variables, key=tenant.secret)
    assert data["ingestRaw"]["errors"] == [], data
    await finished(gateway, tenant, data["ingestRaw"]["job"]["id"])


async def notify_hubspot(gateway: Gateway, tenant: Tenant, *events: dict[str, Any]) -> None:
    """HubSpot webhook events for the tenant; they become notices (HubSpot's are id-only)."""
    connection = await connect(gateway.gql, tenant, "hubspot", HUBSPOT_SECRET)
    url = f"{gateway.url}{path_of(connection)}"
    body = orjson.dumps(list(events))
    async with httpx.AsyncClient() as client:
        sent = await client.post(url, content=body, headers=hubspot_v3_headers(url, body))
    assert sent.status_code == 202, sent.text
    assert len(sent.json()["notice_ids"]) == len(events)


def hubspot_event(event_id: int, object_id: int, subscription: str, name: str, value: str) -> Any:
    (event,) = orjson.loads(hubspot_email_change(event_id, object_id, value))
    return event | {"subscriptionType": subscription, "propertyName": name}


async def notices_left(services: Services) -> list[tuple[str, str]]:
    async with services.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT topic, object_id FROM webhook_notices ORDER BY topic")
        )
        return [(row[0], row[1]) for row in rows.all()]


async def audience_synced(gateway: Gateway, tenant: Tenant, rows: int) -> str:
    """The base id, once the sandbox's Audience table holds `rows` rows and no sync is due."""

    async def done() -> str | None:
        view = await viewer(gateway, tenant)
        states = [e for e in view["amsSync"]["entities"] if e["entity"] == "AUDIENCE"]
        if not states or states[0]["pending"] or view["amsConfig"] is None:
            return None
        base = str(view["amsConfig"]["server"]["airtable"]["base_id"])
        found = await asyncio.to_thread(airtable_audience, gateway, tenant, base)
        return base if len(found) == rows else None

    found: str = await eventually(done)
    return found


def airtable_audience(gateway: Gateway, tenant: Tenant, base_id: str) -> list[dict[str, Any]]:
    """The sandbox base's Audience table, read with the real pyairtable."""
    token = sandbox_token(gateway.settings.secret_key, tenant.client_id)
    api = Api(token, endpoint_url=f"{gateway.url}/sandbox/airtable")
    return [row["fields"] for row in api.table(base_id, "Audience").all()]


async def erase(gateway: Gateway, key: str, **subject: Any) -> dict[str, Any]:
    data = await gateway.gql(ERASE, {"input": subject}, key=key)
    payload: dict[str, Any] = data["eraseSubject"]
    assert payload["errors"] == [], payload
    return payload["receipt"]  # type: ignore[no-any-return]


async def export(gateway: Gateway, key: str, **subject: Any) -> dict[str, Any]:
    data = await gateway.gql(EXPORT, {"input": subject}, key=key)
    assert data["exportSubject"]["errors"] == [], data
    return data["exportSubject"]["subject"]  # type: ignore[no-any-return]


def removed(receipt: dict[str, Any]) -> dict[str, int]:
    return {place["place"]: place["removed"] for place in receipt["removed"]}


async def traces_left(services: Services) -> dict[str, int]:
    """Rows of every table that still mention the person (case-insensitive text search)."""
    found = {}
    async with services.engine.connect() as connection:
        for table, columns in TABLES.items():
            like = " OR ".join(
                f"lower(CAST({column} AS TEXT)) LIKE '%{trace}%'"
                for column in columns
                for trace in TRACES
            )
            count = await connection.execute(text(f"SELECT count(*) FROM {table} WHERE {like}"))
            found[table] = int(count.scalar_one())
    return {table: count for table, count in found.items() if count}


async def audit_rows(services: Services, operation: str) -> list[Any]:
    async with services.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT target_ids, result FROM audit_events WHERE operation = :op"),
            {"op": operation},
        )
        return list(rows.all())


def audience_table(gateway: Gateway, tenant: Tenant, base_id: str) -> Any:
    token = sandbox_token(gateway.settings.secret_key, tenant.client_id)
    return Api(token, endpoint_url=f"{gateway.url}/sandbox/airtable").table(base_id, "Audience")


async def mismatched_and_archived(
    gateway: Gateway, services: Services, tenant: Tenant, base_id: str
) -> None:
    """Someone edits Ada's and Bob's rows in the base, an operator's audit records both
    mismatches (they name the records); then Ada's Shopify record is archived. Ada's Shopify
    and HubSpot records are linked by her email: one row (app.ams.identity_rows), named by the
    record that holds it."""
    table = audience_table(gateway, tenant, base_id)
    rows = {row["fields"]["Email"]: row for row in await asyncio.to_thread(table.all)}
    for email in (ADA["email"], BOB["email"]):
        await asyncio.to_thread(table.update, rows[email]["id"], {"First Name": "Edited"})
    ada_row = rows[ADA["email"]]["fields"]["External ID"]
    assert ada_row in {"cus-1001", "5101"}
    variables = {"input": {"client": tenant.client_id, "entity": "AUDIENCE", "full": True}}
    audited = await gateway.gql(RECONCILE, variables, key=await operator_key(services))
    assert audited["reconcile"]["errors"] == [], audited
    named = audited["reconcile"]["run"]["mismatches"]["nodes"]
    assert sorted(m["externalId"] for m in named) == sorted([ada_row, BOB["external_id"]])
    keys = [{"sourcePlatform": "SHOPIFY", "externalId": "cus-1001"}]
    archived = await gateway.gql(
        ARCHIVE, {"input": {"entity": "AUDIENCE", "records": keys}}, key=tenant.secret
    )
    assert archived["archiveRecords"] == {"archived": 1, "errors": []}
    await audience_synced(gateway, tenant, rows=2)  # her HubSpot copy keeps her row alive


async def retry_pending(services: Services, tenant: Tenant, external_id: str) -> None:
    """What the AMS sync keeps of a record whose write failed for a transient reason."""
    now = datetime.now(UTC)
    async with services.sessions.begin() as session:
        session.add(
            AmsRecordRetry(
                client_id=tenant.client_id,
                livemode=False,
                entity="audience",
                source_platform="shopify",
                external_id=external_id,
                content_hash="0" * 64,
                attempts=1,
                retry_at=now + timedelta(minutes=1),
                error_type="AMS_UNAVAILABLE",
                error_message=f"Airtable answered 503 for {external_id}.",
                updated_at=now,
            )
        )


async def mismatches_left(services: Services) -> list[str]:
    async with services.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT external_id FROM reconciliation_mismatches ORDER BY external_id")
        )
        return [row[0] for row in rows.all()]


async def test_erasing_a_person_removes_them_everywhere_the_gateway_put_them(gateway, services):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    first = await push(gateway, acme, [ADA, ADA_BROKEN, BOB], key="crm-export-1")
    await push_hubspot(gateway, acme, ADA_HUBSPOT)
    await notify_hubspot(
        gateway,
        acme,
        hubspot_event(801, 5101, "contact.propertyChange", "firstname", "Ada"),  # her HubSpot id
        hubspot_event(802, 7777, "contact.propertyChange", "email", ADA_EMAIL),  # her email
        hubspot_event(803, 5101, "product.propertyChange", "price", "54.00"),  # a product 5101
    )
    base = await audience_synced(gateway, acme, rows=2)  # her two records are one row
    before = await asyncio.to_thread(airtable_audience, gateway, acme, base)
    assert sorted(row["Email"] for row in before) == sorted([ADA["email"], BOB["email"]])
    await mismatched_and_archived(gateway, services, acme, base)
    await retry_pending(services, acme, "cus-1001")  # a write of her record to retry

    held = await export(
        gateway, await personal_key(services, acme), email="ADA.LOVELACE@example.com"
    )
    assert sorted(r["external_id"] for r in held["canonical_records"]) == ["5101", "cus-1001"]
    assert {r["data"]["phone"] for r in held["canonical_records"]} == {"+442079460018"}
    assert len(held["raw_payloads"]) == 3  # both standard records and the HubSpot contact
    assert [q["external_id"] for q in held["quarantine_entries"]] == ["cus-1002"]
    assert sorted((h["external_id"], h["kind"]) for h in held["record_history"]) == [
        ("5101", "ams_row_merged"),  # her two records are one AMS row
        ("5101", "consent_kept"),  # her consent kept
        ("cus-1001", "ams_row_merged"),
    ]
    assert len(held["ams_rows"]) == 2
    assert sorted(n["object_id"] for n in held["webhook_notices"]) == ["5101", "7777"]
    assert all(row["airtable_record_id"].startswith("rec") for row in held["ams_rows"])
    assert first["job"]["id"] in {job["id"] for job in held["jobs"]}
    assert held["suppressed"] is False

    receipt = await erase(gateway, acme.secret, email="ADA.LOVELACE@example.com")

    assert receipt["completed"] is True and receipt["error"] is None
    assert removed(receipt) == {
        "canonical_records": 2,
        "record_history": 3,
        "quarantine_entries": 1,
        "staged_records": 3,
        "record_errors": 1,
        "idempotency_keys": 1,
        "webhook_notices": 2,
        "archived_records": 1,
        "ams_record_retries": 1,
        "reconciliation_mismatches": 1,
        "ams_rows": 1,
        "ams_sync_records": 2,
    }
    assert await traces_left(services) == {}
    assert await mismatches_left(services) == [BOB["external_id"]]  # only the person's go
    assert await notices_left(services) == [("product.propertyChange", "5101")]
    after = await asyncio.to_thread(airtable_audience, gateway, acme, base)
    assert [row["Email"] for row in after] == [BOB["email"]]
    remaining = await gateway.gql(
        "{ records(entity: AUDIENCE) { nodes { externalId } } }", key=acme.secret
    )
    assert [n["externalId"] for n in remaining["records"]["nodes"]] == ["cus-2001"]
    events = await gateway.gql(
        '{ events(type: "subject.erased") { nodes { body } } }', key=acme.secret
    )
    (event,) = [n["body"] for n in events["events"]["nodes"]]
    assert event["data"]["run_id"] == receipt["runId"]
    assert event["data"]["identifier_kind"] == "email"
    assert event["data"]["removed"]["ams_rows"] == 1
    audited = await eventually(lambda: audit_rows(services, "privacy.erase_subject"))
    targets = orjson.loads(audited[0][0]) if isinstance(audited[0][0], str) else audited[0][0]
    assert targets[0] == receipt["runId"] and targets[1].startswith("subject:")
    assert len(targets[1]) == len("subject:") + 64

    again = await erase(gateway, acme.secret, email=ADA_EMAIL)
    assert again["completed"] is True and again["totalRemoved"] == 0
    assert again["runId"] != receipt["runId"]
    gone = await export(gateway, await personal_key(services, acme), email=ADA_EMAIL)
    assert gone["canonical_records"] == gone["raw_payloads"] == gone["quarantine_entries"] == []
    assert [e["run_id"] for e in gone["erasures"]] == [receipt["runId"], again["runId"]]

    # Erasure is not a block list: the same request again is new data (its key was released).
    resent = await push(gateway, acme, [ADA, ADA_BROKEN, BOB], key="crm-export-1")
    assert resent["replayed"] is False
    back = await export(
        gateway, await personal_key(services, acme), externalId="cus-1001", platform="SHOPIFY"
    )
    assert [r["external_id"] for r in back["canonical_records"]] == ["cus-1001"]


async def test_an_erasure_cut_short_by_the_ams_resumes_where_it_stopped(gateway, services):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    await push(gateway, acme, [ADA, BOB])
    base = await audience_synced(gateway, acme, rows=2)
    faults = f"{gateway.url}/sandbox/airtable/_faults"
    async with httpx.AsyncClient(headers=acme.headers) as client:
        armed = await client.post(faults, json={"bursts": [{"kind": "503", "count": 100}]})
        assert armed.status_code == 200, armed.text

        stopped = await erase(gateway, acme.secret, phone="+44 20 7946 0018")
        assert stopped["completed"] is False
        assert stopped["error"].startswith("Stopped before ams_rows")
        assert removed(stopped)["canonical_records"] == 1  # the steps before it stay done
        assert removed(stopped)["ams_rows"] == 0
        still = await erase(gateway, acme.secret, phone="+442079460018")
        assert (still["runId"], still["resumed"], still["completed"]) == (
            stopped["runId"],
            True,
            False,
        )
        # What is left waits for the AMS: its row, and the bookkeeping that holds its id.
        assert await traces_left(services) == {"airtable_records": 1, "ams_sync_records": 1}
        await client.delete(faults)

    # Another process (the gateway's own settings: its sandbox URL) sweeps unfinished runs.
    sweeper = Services.create(gateway.settings)
    try:
        resumed = await resume_unfinished(sweeper, idle_for=timedelta(0))
    finally:
        await sweeper.engine.dispose()

    assert resumed == [stopped["runId"]]
    after = await asyncio.to_thread(airtable_audience, gateway, acme, base)
    assert [row["Email"] for row in after] == [BOB["email"]]
    assert await traces_left(services) == {}
    done = await erase(gateway, acme.secret, email=ADA["email"])
    assert done["completed"] is True and done["totalRemoved"] == 0 and not done["resumed"]
    history = (await export(gateway, await personal_key(services, acme), phone="+442079460018"))[
        "erasures"
    ]
    assert [(e["run_id"], e["status"]) for e in history] == [(stopped["runId"], "completed")]
    assert history[0]["removed"]["ams_rows"] == 1


async def test_a_process_that_dies_after_a_step_leaves_a_run_the_next_call_finishes(
    gateway, services
):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    await push(gateway, acme, [ADA, ADA_BROKEN, BOB], key="crm-export-7")
    await audience_synced(gateway, acme, rows=2)
    worker = Services.create(gateway.settings)
    try:  # a process starts the erasure and dies after its first three steps
        caller = Principal(acme.key_id, acme.client_id, KeyMode.TEST)
        subject = Subject(IdentifierKind.EMAIL, ADA["email"])
        run, _ = await start_erasure(worker, caller, subject)
        cut = await carry_on(worker, run, steps=3)
    finally:
        await worker.engine.dispose()
    assert (cut.status, cut.step) == ("running", "staged_records")
    assert await traces_left(services) == {
        "staged_records": 2,
        "record_errors": 1,
        "ams_sync_records": 1,
        "airtable_records": 1,
    }

    receipt = await erase(gateway, acme.secret, email=ADA_EMAIL)

    assert (receipt["runId"], receipt["resumed"], receipt["completed"]) == (run.id, True, True)
    assert removed(receipt) == AFTER_THREE_STEPS
    assert await traces_left(services) == {}


async def test_another_client_can_neither_erase_nor_export_the_person(gateway, services):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    rival = await create_tenant(services, "Rival", "test")
    await push(gateway, acme, [ADA])

    receipt = await erase(gateway, rival.secret, email=ADA["email"])
    assert receipt["completed"] is True and receipt["totalRemoved"] == 0
    nothing = await export(gateway, await personal_key(services, rival), email=ADA["email"])
    assert nothing["canonical_records"] == nothing["raw_payloads"] == nothing["jobs"] == []
    mine = await export(gateway, await personal_key(services, acme), email=ADA["email"])
    assert len(mine["canonical_records"]) == 1

    async with services.sessions() as session, session.begin():
        operator = await tenancy.create_key(session, None, KeyMode.TEST, Role.OPERATOR)
    as_operator = await gateway.gql.client.post(
        "/graphql",
        json={"query": ERASE, "variables": {"input": {"externalId": "cus-1001"}}},
        headers={"Authorization": f"Bearer {operator.secret}", "Gateway-Client": acme.client_id},
    )
    operated = as_operator.json()["data"]["eraseSubject"]
    assert operated["receipt"]["completed"] is True
    assert removed(operated["receipt"])["canonical_records"] == 1


async def test_bad_identifiers_are_field_errors_that_do_not_echo_the_value(gateway, services):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    both = await gateway.gql(ERASE, {"input": {"email": "a@b.co", "phone": "+1"}}, key=acme.secret)
    assert both["eraseSubject"]["errors"][0]["code"] == "invalid_subject"
    bad = await gateway.gql(ERASE, {"input": {"email": "not-an-email"}}, key=acme.secret)
    (error,) = bad["eraseSubject"]["errors"]
    assert (error["code"], error["path"]) == ("invalid_email", "input.email")
    assert "not-an-email" not in error["message"]


async def test_a_client_that_suppresses_erased_people_holds_their_later_pushes_back(
    gateway, services
):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    turned_on = await gateway.gql(
        "mutation { setPrivacySettings(suppressErased: true) { suppressErased } }",
        key=acme.secret,
    )
    assert turned_on["setPrivacySettings"]["suppressErased"] is True
    await push(gateway, acme, [ADA])
    await erase(gateway, acme.secret, email=ADA["email"])

    later = await push(gateway, acme, [ADA, BOB])
    job = await finished(gateway, acme, later["job"]["id"])
    assert job["counters"] == {"quarantined": 1, "written": 1}
    held = await gateway.gql(
        "{ quarantine { nodes { id externalId errors { code message } } } }", key=acme.secret
    )
    (entry,) = held["quarantine"]["nodes"]
    assert entry["externalId"] == "cus-1001"
    assert entry["errors"][0]["code"] == "subject_suppressed"
    hashes = await _suppression_rows(services)
    assert hashes and all(len(row) == 64 for row in hashes)  # salted hashes, nothing else

    await gateway.gql(
        "mutation { setPrivacySettings(suppressErased: false) { suppressErased } }",
        key=acme.secret,
    )
    assert await _suppression_rows(services) == []
    replay = await gateway.gql(
        "mutation($ids: [ID!]) { replayQuarantined(ids: $ids) { jobs { id } errors { code } } }",
        {"ids": [entry["id"]]},
        key=acme.secret,
    )
    await finished(gateway, acme, replay["replayQuarantined"]["jobs"][0]["id"])
    back = await export(gateway, await personal_key(services, acme), email=ADA["email"])
    assert [r["external_id"] for r in back["canonical_records"]] == ["cus-1001"]


async def _suppression_rows(services: Services) -> list[str]:
    async with services.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT subject_hash FROM privacy_suppressed_subjects")
        )
        return [row[0] for row in rows.all()]


async def _left_behind(gateway: Gateway, tenant: Tenant) -> ErasureRun:
    """A run whose process died after three steps, an hour ago (nobody has touched it since)."""
    worker = Services.create(gateway.settings)
    try:
        caller = Principal(tenant.key_id, tenant.client_id, KeyMode.TEST)
        run, _ = await start_erasure(worker, caller, Subject(IdentifierKind.EMAIL, ADA["email"]))
        cut = await carry_on(worker, run, steps=3)
        async with worker.sessions() as session, session.begin():
            await session.execute(
                update(ErasureRun)
                .where(ErasureRun.id == run.id)
                .values(updated_at=datetime.now(UTC) - timedelta(hours=1))
            )
    finally:
        await worker.engine.dispose()
    assert (cut.status, cut.step) == ("running", "staged_records")
    return cut


async def _run_of(services: Services, run_id: str) -> ErasureRun:
    async with services.sessions() as session:
        found = await session.get(ErasureRun, run_id)
    assert found is not None
    return found


async def test_a_run_left_running_is_finished_by_the_periodic_resumer(gateway, services):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    await push(gateway, acme, [ADA, ADA_BROKEN, BOB], key="crm-export-8")
    await audience_synced(gateway, acme, rows=2)
    left = await _left_behind(gateway, acme)

    api_process = Services.create(
        gateway.settings.model_copy(update={"erasure_resume_interval_seconds": 0.05})
    )
    await api_process.erasures.start()  # what Services.start runs in every API process
    try:

        async def completed() -> ErasureRun | None:
            run = await _run_of(services, left.id)
            return run if run.status == "completed" else None

        done: ErasureRun = await eventually(completed)
    finally:
        await api_process.erasures.stop()
        await api_process.engine.dispose()

    assert done.removed == AFTER_THREE_STEPS
    assert await traces_left(services) == {}


async def test_two_processes_resuming_the_same_run_do_not_both_carry_on(gateway, services):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    await push(gateway, acme, [ADA, BOB])
    await audience_synced(gateway, acme, rows=2)
    left = await _left_behind(gateway, acme)
    first, second = Services.create(gateway.settings), Services.create(gateway.settings)
    try:
        results = await asyncio.gather(
            resume_unfinished(first, idle_for=timedelta(minutes=1)),
            resume_unfinished(second, idle_for=timedelta(minutes=1)),
        )
    finally:
        await first.engine.dispose()
        await second.engine.dispose()

    assert sorted(results) == [[], [left.id]]  # one took it over, the other left it alone
    done = await _run_of(services, left.id)
    assert done.status == "completed"
    assert (done.removed["canonical_records"], done.removed["ams_rows"]) == (1, 1)
    assert sum(done.removed.values()) == 1 + 1 + 1 + 1  # records, staged, AMS row, sync row
    assert await traces_left(services) == {}
