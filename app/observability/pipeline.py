"""Metrics and trace lines from the work itself: ingest outcomes, Airtable requests, AMS writes.

AMS writes happen in syncs that batch the changed records of many jobs; each written record's
job (its last one) gives the end-to-end latency from receipt and the trace id of the call that
brought it, logged on an `ams.written` line and bound while the write's change events are
recorded (when the batch came from a single trace).
"""

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import IngestJob
from app.observability.metrics import (
    AMS_REQUESTS,
    INGEST_RECORDS,
    SYNC_LATENCY,
    WEBHOOK_DELIVERIES,
)
from app.tenancy.models import Tenant

log = structlog.get_logger("gateway.ams")

INGEST_OUTCOMES = ("valid", "quarantined", "written", "unchanged", "stale", "held")
# /v0/{baseId}/… and /v0/meta/bases/{baseId}/…, behind any prefix (the sandbox's /sandbox/airtable)
_BASE_IN_PATH = re.compile(r"/v0/(?:meta/bases/)?(app[A-Za-z0-9]{14})(?:/|$)")


def count_ingest_outcomes(entity: str, counts: Mapping[str, int]) -> None:
    for outcome in INGEST_OUTCOMES:
        if counts.get(outcome):
            INGEST_RECORDS.labels(entity, outcome).inc(counts[outcome])


def count_ams_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A requests response hook on every Airtable session: one count per HTTP answer."""
    found = _BASE_IN_PATH.search(urlsplit(response.url).path)
    AMS_REQUESTS.labels(found.group(1) if found else "meta", str(response.status_code)).inc()


@dataclass
class WriteOrigins:
    """Where a batch of AMS writes came from: the jobs' creation times and trace ids."""

    entity: str
    created: list[datetime] = field(default_factory=list)  # one per written record
    trace_ids: list[str] = field(default_factory=list)

    @contextmanager
    def traced(self) -> Iterator[None]:
        """The batch's trace id bound (for the events recorded now), when it has exactly one."""
        if len(self.trace_ids) != 1:
            yield
            return
        with structlog.contextvars.bound_contextvars(trace_id=self.trace_ids[0]):
            yield

    def observe(self) -> None:
        """After the write is committed: each record's latency from receipt."""
        now = datetime.now(UTC)
        for created in self.created:
            SYNC_LATENCY.labels(self.entity).observe(max(0.0, (now - created).total_seconds()))


async def write_origins(
    session: AsyncSession, tenant: Tenant, entity: str, job_ids: list[str]
) -> WriteOrigins:
    """`job_ids`: the job of each written record whose content changed (repeats allowed)."""
    origins = WriteOrigins(entity)
    if not job_ids:
        return origins
    rows = await session.execute(
        select(IngestJob.id, IngestJob.created_at, IngestJob.request_id).where(
            IngestJob.id.in_(set(job_ids)),
            IngestJob.client_id == tenant.client_id,
            IngestJob.livemode == tenant.livemode,
        )
    )
    jobs = {row.id: row for row in rows}
    origins.created = [jobs[job_id].created_at for job_id in job_ids if job_id in jobs]
    origins.trace_ids = sorted({row.request_id for row in jobs.values() if row.request_id})
    single = origins.trace_ids[0] if len(origins.trace_ids) == 1 else None
    log.info(
        "ams.written",
        entity=entity,
        records=len(job_ids),
        job_ids=sorted(jobs),
        trace_id=single,
        trace_ids=origins.trace_ids,
    )
    return origins


_DELIVERY_OUTCOMES = {"succeeded": "succeeded", "pending": "retrying", "failed": "failed"}


def count_delivery(status: str) -> None:
    """One change-event delivery attempt, by the state it left the delivery in."""
    WEBHOOK_DELIVERIES.labels(_DELIVERY_OUTCOMES.get(str(status), str(status))).inc()
