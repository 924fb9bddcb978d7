"""The events the gateway's own changes emit, built from the rows that changed (the payloads'
shapes are in app.events.catalog). Each is recorded in the caller's transaction."""

from sqlalchemy.ext.asyncio import AsyncSession, async_object_session

from app.db.models import IngestJob
from app.events.catalog import EventType
from app.events.models import Event
from app.events.outbox import record_event
from app.provisioning.models import AmsProvisioning
from app.tenancy.models import Tenant


def record_job_completed(session: AsyncSession, job: IngestJob) -> Event:
    counters = {
        "received": job.received,
        "valid": job.valid,
        "quarantined": job.quarantined,
        "unchanged": job.unchanged,
        "stale": job.stale,
        "written": job.written,
        "held": job.held,
    }
    data = {
        "job_id": job.id,
        "entity": job.entity,
        "status": job.status,
        "counters": counters,
        "request_id": job.request_id,
        "finished_at": job.finished_at,
    }
    return record_event(session, Tenant(job.client_id, job.livemode), EventType.JOB_COMPLETED, data)


def record_client_provisioned(row: AmsProvisioning) -> Event:
    """Recorded in the transaction of the session `row` belongs to (the one that provisions)."""
    session = async_object_session(row)
    if session is None:
        raise ValueError("the provisioning row must belong to a session")
    data = {
        "client_id": row.client_id,
        "base_id": row.base_id,
        "root_folder_id": row.root_folder_id,
        "config_version": row.config_version,
        "provisioned_at": row.provisioned_at,
    }
    return record_event(
        session, Tenant(row.client_id, row.livemode), EventType.CLIENT_PROVISIONED, data
    )
