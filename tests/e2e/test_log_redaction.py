"""No personal data in the logs: a real gateway process takes audience records through every
door (GraphQL, REST JSON and NDJSON, ingestRaw, signed webhooks), some valid and some quarantined,
and then every line it wrote, its /metrics page and the error messages callers saw are searched
for each pushed email and phone number."""

import base64
import json
import re
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from standardwebhooks.webhooks import Webhook

from app.db.engine import create_engine
from app.jobs.models import FINAL_STATUSES
from app.transform.errors import NormalisationError
from app.transform.normalise.emails import normalise_email
from tests.e2e.gateway_process import Server, stop

MARK = "zqx7"  # in every pushed identifier, so a leak is unmistakable
STANDARD_SECRET = "whsec_" + base64.b64encode(b"redaction-test-signing-key-32byt").decode()
JOB_DONE = {status.value for status in FINAL_STATUSES}
JOB = "query($id: ID!) { job(id: $id) { status errors(first: 100) { nodes { message path } } } }"
QUARANTINE = """query { quarantine(filter: {entity: AUDIENCE}, first: 100) {
  nodes { raw mapped errors { code message path value } }
} }"""


def email(door: str, valid: bool = True) -> str:
    return f"{MARK}.{door}@leakcheck.example" if valid else f"{MARK}.{door}@@leakcheck"


def phone(number: int) -> str:
    return f"+1415555{number:04d}"


def person(door: str, number: int, valid: bool = True) -> dict[str, Any]:
    return {
        "external_id": f"{door}-{number}",
        "source_platform": "custom",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "email": email(f"{door}{number}", valid),
        "phone": phone(number) if valid else f"+1 415 {MARK} {number}",
        "first_name": f"Zqxname{door}{number}",
        "last_name": "Leakcheck",
        "email_consent": "subscribed",
    }


class Partner:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30.0)
        self.headers = {"Authorization": f"Bearer {server.sandbox_test_key}"}
        self.seen: list[str] = []  # every answer, to search for echoed personal data
        self.sent: list[str] = []  # every request body: the needles must be found in these

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables})
        self.sent.append(body)
        response = self.http.post("/graphql", content=body, headers=rest_headers(self))
        self.seen.append(response.text)
        answer: dict[str, Any] = response.json()
        assert "errors" not in answer, answer["errors"]
        return dict(answer["data"])

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        self.sent.append(body.decode())
        response = self.http.post(path, content=body, headers=headers)
        self.seen.append(response.text)
        return response

    def finished(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = self.graphql(JOB, {"id": job_id})["job"]
            if job["status"] in JOB_DONE:
                return dict(job)
            time.sleep(0.1)
        pytest.fail(f"job {job_id} did not finish")


def push_everywhere(partner: Partner) -> list[str]:
    """Audience records through each door; returns the ids of the jobs they made."""
    jobs = []
    graphql = [person("gql", 1), person("gql", 2), person("gql", 3, valid=False)]
    answer = partner.graphql(
        """mutation($input: IngestAudienceInput!) {
          ingestAudience(input: $input) { job { id } errors { message } } }""",
        {"input": {"records": graphql, "idempotencyKey": "redaction-once"}},
    )
    jobs.append(answer["ingestAudience"]["job"]["id"])
    # The same idempotency key with other records: refused, with an error the caller sees.
    conflict = partner.graphql(
        """mutation($input: IngestAudienceInput!) {
          ingestAudience(input: $input) { job { id } errors { message } } }""",
        {"input": {"records": [person("gql", 4)], "idempotencyKey": "redaction-once"}},
    )
    assert conflict["ingestAudience"]["errors"]

    rest = {"records": [person("rest", 5), person("rest", 6, valid=False)]}
    response = partner.post("/ingest/audience", json.dumps(rest).encode(), rest_headers(partner))
    assert response.status_code == 202, response.text
    jobs.append(response.json()["id"])

    lines = [person("ndjson", 7), person("ndjson", 8, valid=False)]
    ndjson = "\n".join(json.dumps(line) for line in lines).encode()
    headers = rest_headers(partner) | {"Content-Type": "application/x-ndjson"}
    response = partner.post("/ingest/audience", ndjson, headers)
    assert response.status_code == 202, response.text
    jobs.append(response.json()["id"])

    jobs.append(push_raw_contacts(partner))
    jobs.extend(push_webhooks(partner))
    jobs.append(push_badly(partner))
    return jobs


def push_badly(partner: Partner) -> str:
    """Requests that fail as a whole or field by field: a body that is not JSON, wrong types."""
    broken = f'{{"records": [{{"email": "{email("broken")}", "phone": "{phone(14)}"'.encode()
    response = partner.post("/ingest/audience", broken, rest_headers(partner))
    assert response.status_code == 400
    wrong = person("types", 15) | {"external_id": 15, "email_consent": "maybe", "segments": "x"}
    answer = partner.graphql(
        """mutation($input: IngestAudienceInput!) {
          ingestAudience(input: $input) { job { id } errors { message } } }""",
        {"input": {"records": [wrong]}},
    )
    return str(answer["ingestAudience"]["job"]["id"])


def synced(partner: Partner) -> list[dict[str, Any]]:
    """Waits until the audience records went to the client's (sandbox) AMS base."""
    query = """query { viewer { amsSync {
      entities { entity lastSyncedAt pending written rejected error }
      records(first: 100) { nodes { status errorMessage } } } } }"""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sync = partner.graphql(query)["viewer"]["amsSync"]
        audience = [e for e in sync["entities"] if e["entity"] == "AUDIENCE"]
        if audience and audience[0]["lastSyncedAt"] and not audience[0]["pending"]:
            records = list(sync["records"]["nodes"])
            assert any(record["status"] == "SYNCED" for record in records), sync
            return records
        time.sleep(0.2)
    pytest.fail(f"the audience never reached the sandbox AMS: {sync}")


def rest_headers(partner: Partner) -> dict[str, str]:
    return partner.headers | {"Content-Type": "application/json"}


def push_raw_contacts(partner: Partner) -> str:
    contacts = [
        hubspot_contact(9, email("raw9"), "+44 20 7946 0918"),
        hubspot_contact(10, email("raw10", valid=False), f"0{MARK}"),
    ]
    answer = partner.graphql(
        """mutation($input: IngestRawInput!) { ingestRaw(input: $input) { job { id } } }""",
        {"input": {"platform": "HUBSPOT", "entity": "AUDIENCE", "records": contacts}},
    )
    return str(answer["ingestRaw"]["job"]["id"])


def hubspot_contact(number: int, address: str, telephone: str) -> dict[str, Any]:
    return {
        "id": str(9000 + number),
        "properties": {
            "email": address,
            "firstname": f"Zqxraw{number}",
            "lastname": "Leakcheck",
            "phone": telephone,
            "country": "United Kingdom",
            "lastmodifieddate": "2026-11-01T10:00:00.123Z",
        },
        "createdAt": "2026-03-04T10:11:12.345Z",
        "updatedAt": "2026-11-01T10:00:00.123Z",
        "archived": False,
    }


def push_webhooks(partner: Partner) -> list[str]:
    """A partner-forwarded (Standard Webhooks) audience event, one with a bad email, and one
    with a type the gateway does not ingest (kept as a notice with its payload)."""
    connection = partner.graphql(
        """mutation($input: SetWebhookSecretInput!) {
          setWebhookSecret(input: $input) { connection { url } errors { message } } }""",
        {"input": {"platform": "CUSTOM", "secret": STANDARD_SECRET}},
    )["setWebhookSecret"]["connection"]
    path = httpx.URL(connection["url"]).path
    events = [
        ("audience.updated", person("hook", 11)),
        ("audience.updated", person("hook", 12, valid=False)),
        ("subscriber.merged", person("hook", 13)),
    ]
    jobs = []
    for number, (event_type, record) in enumerate(events):
        body = json.dumps({"type": event_type, "data": record}).encode()
        response = partner.post(path, body, signed(body, f"msg_redaction_{number}"))
        assert response.status_code in (200, 202), response.text
        jobs.extend(response.json().get("job_ids", []))
    return jobs


def signed(body: bytes, message_id: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(STANDARD_SECRET).sign(message_id, now, body.decode()),
    }


# Rows that must never hold personal values: change events (what subscribers receive), audit
# rows, job failure reasons, record error messages, AMS sync errors.
BEYOND_THE_RECORDS = [
    "SELECT body FROM events",
    "SELECT operation || ' ' || target_ids || ' ' || result FROM audit_events",
    "SELECT coalesce(failure_reason, '') FROM ingest_jobs",
    "SELECT message || ' ' || path FROM record_errors",
    "SELECT coalesce(error_message, '') FROM ams_sync_records",
]


def stored_outside_the_records(server: Server) -> str:
    """The server's SQLite database (next to its log files), read once it has stopped."""
    database = server.stderr_path.parent / "gw.db"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = [row for query in BEYOND_THE_RECORDS for row in connection.execute(query)]
    assert any("job.completed" in str(row) for row in rows), "no change event was recorded"
    return "\n".join(str(row[0]) for row in rows)


def needles() -> set[str]:
    """Every form a pushed identifier could take in a log line."""
    found = {MARK, "zqxname", "zqxraw"}  # emails and bad phones carry MARK; names these
    for number in range(1, 16):
        found.add(phone(number))
        found.add(phone(number)[2:])  # national digits, e.g. after a failed normalisation
    found.update({"79460918", "7946 0918"})
    return {needle.lower() for needle in found}


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return sorted(needle for needle in needles() if needle in lowered)


def lines_with(text: str) -> list[str]:
    pattern = re.compile("|".join(re.escape(n) for n in needles()), re.IGNORECASE)
    return [line[:300] for line in text.splitlines() if pattern.search(line)]


def test_no_pushed_email_or_phone_appears_in_logs_metrics_or_errors(server: Server) -> None:
    partner = Partner(server)
    jobs = [partner.finished(job_id) for job_id in push_everywhere(partner)]
    assert len(leaks("".join(partner.sent))) >= 12  # the search looks for what was really sent
    assert len(jobs) >= 5 and any(job["errors"]["nodes"] for job in jobs)
    held = partner.graphql(QUARANTINE)["quarantine"]["nodes"]
    assert len(held) >= 5  # the invalid person of each door
    ams_records = synced(partner)
    metrics = partner.http.get("/metrics")
    assert metrics.status_code == 200
    assert 'gateway_retention_purge_runs_total{result="ok"}' in metrics.text

    # Quarantine views and record errors answer a key without pii:read with masked values.
    assert leaks(json.dumps(held)) == [], lines_with(json.dumps(held, indent=1))
    assert leaks(json.dumps([job["errors"] for job in jobs])) == []
    assert leaks(json.dumps(ams_records)) == []
    assert leaks(metrics.text) == [], lines_with(metrics.text)  # metrics labels
    answers = "\n".join(partner.seen)  # every answer, errors included, to a key without pii:read
    assert leaks(answers) == [], lines_with(answers)

    stop(server.process)  # everything flushed: shutdown logs included
    logs = server.stderr_text()
    assert len(logs.splitlines()) > 10, "the server logged (almost) nothing: nothing was checked"
    assert leaks(logs) == [], "\n".join(lines_with(logs))
    stored = stored_outside_the_records(server)
    assert leaks(stored) == [], "\n".join(lines_with(stored))
    # The embedded shape purges by retention from start-up on (app.retention.runner).
    assert any(line.get("event") == "retention.purge_finished" for line in server.log_lines())


async def test_a_database_error_quotes_no_values(tmp_path: Any) -> None:
    """Tracebacks of database errors get logged: they must not carry the statement's values."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'people.db'}")
    address = email("dberror")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE people (email TEXT PRIMARY KEY)"))
        with pytest.raises(IntegrityError) as raised:
            async with engine.begin() as connection:
                for _ in range(2):
                    await connection.execute(text("INSERT INTO people VALUES (:e)"), {"e": address})
    finally:
        await engine.dispose()
    assert "UNIQUE constraint failed" in str(raised.value)
    assert leaks(str(raised.value)) == []


@pytest.mark.parametrize(
    "address",
    [f"{MARK}.idna@xn--{MARK}-leak.example", f"{MARK}@{MARK}_co.example", f"{MARK}@@leak"],
)
def test_an_invalid_email_error_quotes_no_part_of_the_address(address: str) -> None:
    """Normalisation messages reach job errors, quarantine views and logs."""
    with pytest.raises(NormalisationError) as raised:
        normalise_email(address)
    assert "qx7" not in raised.value.message and "leak" not in raised.value.message
