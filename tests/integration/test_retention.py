"""Retention: each tenant's policy (defaults from settings, its own periods through GraphQL) and
the purge that removes what is past it — run here with a frozen clock (`now` passed in)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.db.models import IngestJob, RecordError, StagedRecord
from app.ids import new_id
from app.observability.metrics import REGISTRY
from app.quarantine.models import QuarantinedRecord
from app.reconciliation.models import (
    MismatchKind,
    ReconciliationMismatch,
    ReconciliationRun,
    RunStatus,
    RunTrigger,
)
from app.reconciliation.service import COUNTS
from app.retention import service as retention
from app.retention.purge import purge_all
from app.services import Services
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode, Role
from app.tenancy.models import Tenant as TenantScope
from app.webhooks.models import WebhookNotice
from tests.conftest import GraphQL, Tenant, create_tenant
from tests.integration.test_ingest_pipeline import finished_job, push
from workers.arq_worker import purge_retention, worker_settings

POLICY_FIELDS = """rawPayloadDays quarantineDays jobDetailDays auditDays customized updatedAt
  defaults { rawPayloadDays quarantineDays jobDetailDays auditDays }"""
VIEWER = f"query {{ viewer {{ retentionPolicy {{ {POLICY_FIELDS} }} }} }}"
JOB_SUMMARY = "query($id: ID!) { job(id: $id) { status counters { valid quarantined } } }"
SET_POLICY = f"""mutation Set($input: SetRetentionPolicyInput!) {{
  setRetentionPolicy(input: $input) {{
    retentionPolicy {{ {POLICY_FIELDS} }} errors {{ code message path }}
  }}
}}"""


def person(number: int, email: str) -> dict[str, Any]:
    return {
        "external_id": f"hs-{number}",
        "source_platform": "hubspot",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "email": email,
        "first_name": "Ana",
        "email_consent": "subscribed",
    }


async def pushed_people(gql: GraphQL, services: Services, tenant: Tenant) -> dict[str, Any]:
    """Five people, two of them with an email that cannot be valid (quarantined)."""
    people = [person(n, f"retention.person{n}@example.com") for n in range(3)]
    people += [person(3, "not-an-email"), person(4, "also@@wrong")]
    payload = await push(gql, tenant, people, "audience")
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["counters"]["valid"] == 3 and job["counters"]["quarantined"] == 2, job
    return job


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def held(services: Services, client_id: str) -> dict[str, int]:
    """What the gateway holds for one client, per place the purge looks."""
    jobs = select(IngestJob.id).where(IngestJob.client_id == client_id)
    return {
        "staged": await count(services, StagedRecord, StagedRecord.client_id == client_id),
        "quarantine": await count(
            services, QuarantinedRecord, QuarantinedRecord.client_id == client_id
        ),
        "record_errors": await count(services, RecordError, RecordError.job_id.in_(jobs)),
        "notices": await count(services, WebhookNotice, WebhookNotice.client_id == client_id),
        "notice_payloads": await count(
            services,
            WebhookNotice,
            WebhookNotice.client_id == client_id,
            WebhookNotice.payload.is_not(None),
        ),
        "audit": await count(services, AuditEvent, AuditEvent.client_id == client_id),
        "jobs": await count(services, IngestJob, IngestJob.client_id == client_id),
    }


async def add_notice_and_audit(services: Services, client_id: str) -> None:
    """A webhook notice carrying a platform payload, and an audit row, both stamped now."""
    async with services.sessions() as session, session.begin():
        session.add(
            WebhookNotice(
                id=new_id("whn"),
                client_id=client_id,
                livemode=False,
                connection_id="whc_test",
                source="shopify",
                topic="customers/create",
                event_id="evt-1",
                reason="unsupported_topic",
                message="customers/create is not ingested",
                payload={"id": 1, "email": "notice.person@example.com"},
                received_at=datetime.now(UTC),
            )
        )
        await audit.write(
            session,
            [audit.AuditEntry("graphql.ingestAudience", "ok", "client", None, client_id, False)],
        )


def purged_metric(kind: str) -> float:
    return REGISTRY.get_sample_value("gateway_retention_purged_total", {"kind": kind}) or 0.0


async def test_the_viewer_shows_the_documented_defaults(gql, tenant):
    policy = (await gql(VIEWER, key=tenant.secret))["viewer"]["retentionPolicy"]
    expected = {"rawPayloadDays": 30, "quarantineDays": 30, "jobDetailDays": 90, "auditDays": 365}
    assert {name: policy[name] for name in expected} == expected
    assert policy["defaults"] == expected
    assert policy["customized"] == [] and policy["updatedAt"] is None


async def test_a_client_sets_its_own_periods_and_returns_to_the_defaults(gql, services, tenant):
    answer = await gql(SET_POLICY, {"input": {"rawPayloadDays": 7}}, key=tenant.secret)
    policy = answer["setRetentionPolicy"]["retentionPolicy"]
    assert answer["setRetentionPolicy"]["errors"] == []
    assert policy["rawPayloadDays"] == 7 and policy["quarantineDays"] == 30
    assert policy["customized"] == ["rawPayloadDays"] and policy["updatedAt"]

    answer = await gql(SET_POLICY, {"input": {"auditDays": 120}}, key=tenant.secret)
    policy = answer["setRetentionPolicy"]["retentionPolicy"]
    assert (policy["rawPayloadDays"], policy["auditDays"]) == (7, 120)  # left out: unchanged

    answer = await gql(SET_POLICY, {"input": {"rawPayloadDays": None}}, key=tenant.secret)
    shown = (await gql(VIEWER, key=tenant.secret))["viewer"]["retentionPolicy"]
    assert shown == answer["setRetentionPolicy"]["retentionPolicy"]
    assert shown["rawPayloadDays"] == 30 and shown["customized"] == ["auditDays"]

    # The policy is the tenant's: the same client's live data keeps the defaults.
    async with services.sessions() as session:
        live = await retention.get_policy(
            session, TenantScope(tenant.client_id, True), services.settings
        )
    assert live.periods.audit_days == 365 and live.own == frozenset()


async def test_audit_rows_are_kept_at_least_90_days(gql, tenant):
    variables = {"input": {"auditDays": 30, "quarantineDays": 0, "jobDetailDays": 7}}
    answer = (await gql(SET_POLICY, variables, key=tenant.secret))["setRetentionPolicy"]
    assert answer["retentionPolicy"] is None
    assert {(e["code"], e["path"]) for e in answer["errors"]} == {
        ("out_of_range", "auditDays"),
        ("out_of_range", "quarantineDays"),
    }
    assert any("between 90 and 365" in e["message"] for e in answer["errors"])
    shown = (await gql(VIEWER, key=tenant.secret))["viewer"]["retentionPolicy"]
    assert shown["customized"] == []  # nothing applied from a refused change


async def test_a_key_without_the_admin_scope_cannot_change_retention(gql, services, tenant):
    async with services.sessions() as session, session.begin():
        reader = await tenancy.create_key(
            session, tenant.client_id, KeyMode.TEST, scopes=["read", "ingest"]
        )
    response = await gql.raw(SET_POLICY, {"input": {"rawPayloadDays": 1}}, key=reader.secret)
    body = response.json()
    assert response.status_code == 403
    assert body["errors"][0]["extensions"]["code"] == "insufficient_scope"


async def test_an_operator_sets_the_policy_of_the_client_it_names(api, gql, services, tenant):
    async with services.sessions() as session, session.begin():
        operator = await tenancy.create_key(session, None, KeyMode.TEST, Role.OPERATOR)
    variables = {"query": SET_POLICY, "variables": {"input": {"jobDetailDays": 120}}}
    headers = {"Authorization": f"Bearer {operator.secret}"}
    unnamed = (await api.post("/graphql", json=variables, headers=headers)).json()
    refused = unnamed["data"]["setRetentionPolicy"]
    assert refused["retentionPolicy"] is None
    assert [error["code"] for error in refused["errors"]] == ["client_required"]
    named = await api.post(
        "/graphql", json=variables, headers=headers | {"Gateway-Client": tenant.client_id}
    )
    assert named.json()["data"]["setRetentionPolicy"]["errors"] == []
    shown = (await gql(VIEWER, key=tenant.secret))["viewer"]["retentionPolicy"]
    assert shown["jobDetailDays"] == 120 and shown["customized"] == ["jobDetailDays"]


@pytest.fixture
def small_batches(settings):
    settings.retention_purge_batch_size = 2  # several batches per kind: the loop must carry on


async def test_the_purge_removes_each_kind_after_its_period(gql, services, tenant, small_batches):
    job = await pushed_people(gql, services, tenant)
    await add_notice_and_audit(services, tenant.client_id)
    other = await create_tenant(services, "Other client")
    await pushed_people(gql, services, other)
    await add_notice_and_audit(services, other.client_id)
    # The other client keeps everything for longer: its data must survive our client's purges.
    async with services.sessions() as session, session.begin():
        await retention.set_policy(
            session,
            TenantScope(other.client_id, False),
            services.settings,
            {"raw_payload_days": 400, "quarantine_days": 400, "job_detail_days": 400},
            None,
        )
        await retention.set_policy(
            session,
            TenantScope(tenant.client_id, False),
            services.settings,
            {"quarantine_days": 60, "audit_days": 90},
            None,
        )
    start = datetime.now(UTC)
    await services.audit.flush()  # the audit rows of the calls above, written now
    untouched = await held(services, other.client_id)
    audit_rows = (await held(services, tenant.client_id))["audit"]
    assert audit_rows >= 2  # the ingest call's and the one added
    before = {kind: purged_metric(kind) for kind in retention_kinds()}

    assert await purge_all(services.sessions, services.settings, start + timedelta(days=29)) == {
        "raw_payload": 0,
        "quarantine": 0,
        "job_detail": 0,
        "audit": 0,
    }
    full = {"staged": 5, "quarantine": 2, "record_errors": 2, "notices": 1, "notice_payloads": 1}
    assert await held(services, tenant.client_id) == full | {"audit": audit_rows, "jobs": 1}

    # Day 31: the raw inputs of the stored people go; quarantine still holds the two it needs.
    totals = await purge_all(services.sessions, services.settings, start + timedelta(days=31))
    assert totals["raw_payload"] == 3 + 1 and totals["quarantine"] == 0
    assert await held(services, tenant.client_id) == full | {
        "staged": 2,
        "notice_payloads": 0,
        "audit": audit_rows,
        "jobs": 1,
    }

    # Day 61: the quarantine entries go, and with them the raw inputs they held.
    totals = await purge_all(services.sessions, services.settings, start + timedelta(days=61))
    assert (totals["quarantine"], totals["raw_payload"], totals["job_detail"]) == (2, 2, 0)

    # Day 91: job detail and the client's audit rows; the job's summary row stays.
    totals = await purge_all(services.sessions, services.settings, start + timedelta(days=91))
    assert (totals["job_detail"], totals["audit"]) == (2 + 1, audit_rows)
    assert await held(services, tenant.client_id) == dict.fromkeys(full, 0) | {
        "audit": 0,
        "jobs": 1,
    }
    summary = (await gql(JOB_SUMMARY, {"id": job["id"]}, key=tenant.secret))["job"]
    assert summary == {"status": job["status"], "counters": {"valid": 3, "quarantined": 2}}

    assert await held(services, other.client_id) == untouched
    after = {kind: purged_metric(kind) - before[kind] for kind in retention_kinds()}
    assert after == {"raw_payload": 6, "quarantine": 2, "job_detail": 3, "audit": audit_rows}


def retention_kinds() -> tuple[str, ...]:
    return ("raw_payload", "quarantine", "job_detail", "audit")


async def test_records_of_unfinished_jobs_are_never_purged(gql, services, tenant):
    job = await pushed_people(gql, services, tenant)
    async with services.sessions() as session, session.begin():
        row = await session.get(IngestJob, job["id"])
        assert row is not None
        row.status = "PROCESSING"  # e.g. a retried job a worker is still on
    await purge_all(services.sessions, services.settings, datetime.now(UTC) + timedelta(days=31))
    assert await count(services, StagedRecord, StagedRecord.job_id == job["id"]) == 5


async def test_the_scale_out_cron_task_purges_with_the_real_clock(gql, services, tenant):
    job = await pushed_people(gql, services, tenant)
    async with services.sessions() as session, session.begin():
        await retention.set_policy(
            session, TenantScope(tenant.client_id, False), services.settings,
            {"raw_payload_days": 1}, None,
        )  # fmt: skip
        row = await session.get(IngestJob, job["id"])
        assert row is not None and row.finished_at is not None
        row.finished_at -= timedelta(days=2)  # the job ended two days ago
    runs = REGISTRY.get_sample_value("gateway_retention_purge_runs_total", {"result": "ok"}) or 0
    totals = await purge_retention({"sessions": services.sessions, "settings": services.settings})
    assert totals["raw_payload"] == 3  # the quarantined two stay with their entries
    assert await count(services, StagedRecord, StagedRecord.job_id == job["id"]) == 2
    after = REGISTRY.get_sample_value("gateway_retention_purge_runs_total", {"result": "ok"})
    assert after == runs + 1
    [cron] = [job for job in worker_settings(services.settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:6379"}))["cron_jobs"]
        if job.coroutine is purge_retention]  # fmt: skip
    assert (cron.minute, cron.second) == (17, 0)  # hourly


async def add_reconciliation_run(
    services: Services, client_id: str, finished_at: datetime, mismatches: int
) -> str:
    """A finished audit of the client's audience with `mismatches` missing records."""
    run_id = new_id("rcn")
    async with services.sessions() as session, session.begin():
        session.add(
            ReconciliationRun(
                id=run_id,
                client_id=client_id,
                livemode=False,
                entity="audience",
                full=True,
                repair=False,
                trigger=RunTrigger.SCHEDULED.value,
                status=RunStatus.SUCCEEDED.value,
                error=None,
                **dict.fromkeys(COUNTS, 0),
                requested_by=None,
                started_at=finished_at,
                finished_at=finished_at,
            )
        )
        await session.flush()
        for number in range(mismatches):
            session.add(
                ReconciliationMismatch(
                    id=new_id("rcm"),
                    run_id=run_id,
                    client_id=client_id,
                    livemode=False,
                    kind=MismatchKind.MISSING.value,
                    source_platform="hubspot",
                    external_id=f"hs-{number}",
                    airtable_record_id=None,
                    columns=[],
                )
            )
    return run_id


async def reconciliation_left(services: Services, client_id: str) -> tuple[list[str], int]:
    """The client's run ids, oldest first, and how many mismatches they hold."""
    async with services.sessions() as session:
        runs = await session.scalars(
            select(ReconciliationRun.id)
            .where(ReconciliationRun.client_id == client_id)
            .order_by(ReconciliationRun.finished_at)
        )
        found = list(runs)
    held = await count(services, ReconciliationMismatch, ReconciliationMismatch.run_id.in_(found))
    return found, held


async def test_reconciliation_runs_and_mismatches_go_after_the_job_detail_period(
    services, tenant, small_batches
):
    start = datetime.now(UTC)
    old = await add_reconciliation_run(services, tenant.client_id, start, mismatches=3)
    newer = await add_reconciliation_run(
        services, tenant.client_id, start + timedelta(days=10), mismatches=1
    )
    other = await create_tenant(services, "Other client")
    kept = await add_reconciliation_run(services, other.client_id, start, mismatches=2)
    async with services.sessions() as session, session.begin():
        await retention.set_policy(
            session,
            TenantScope(other.client_id, False),
            services.settings,
            {"job_detail_days": 400},
            None,
        )

    totals = await purge_all(services.sessions, services.settings, start + timedelta(days=89))
    assert totals["job_detail"] == 0
    assert await reconciliation_left(services, tenant.client_id) == ([old, newer], 4)

    # Day 91 (job detail: 90 days): the old run and its three mismatches go, in batches of two.
    totals = await purge_all(services.sessions, services.settings, start + timedelta(days=91))
    assert totals["job_detail"] == 3 + 1
    assert await reconciliation_left(services, tenant.client_id) == ([newer], 1)
    assert await reconciliation_left(services, other.client_id) == ([kept], 2)
