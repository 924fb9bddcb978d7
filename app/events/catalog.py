"""The change events a client's subscriber endpoints can receive: names and payload shapes.

Every delivery body is `{"type": <name>, "timestamp": <RFC 3339 UTC>, "data": {...}, "trace_id":
<id or null>}` (the Standard Webhooks payload structure, plus the trace id of the partner call that
caused the change, when one did); `data` holds exactly the fields listed for its type, snake_case
like the standard schema. Names are `<noun>.<past-tense verb>` and never change once published.
"""

from dataclasses import dataclass
from enum import StrEnum


class EventType(StrEnum):
    JOB_COMPLETED = "job.completed"
    CLIENT_PROVISIONED = "client.provisioned"
    PRODUCT_SYNCED = "product.synced"
    ASSET_UPLOADED = "asset.uploaded"
    CONNECTION_UNHEALTHY = "connection.unhealthy"
    CONNECTION_RECOVERED = "connection.recovered"
    SUBJECT_ERASED = "subject.erased"  # personal data (app.privacy)
    RECONCILIATION_MISMATCHED = "reconciliation.mismatched"  # AMS audit (app.reconciliation)


@dataclass(frozen=True)
class EventSpec:
    type: EventType
    description: str
    fields: dict[str, str]  # data field → what it holds


CATALOG: dict[EventType, EventSpec] = {
    spec.type: spec
    for spec in [
        EventSpec(
            EventType.JOB_COMPLETED,
            "An ingest job reached its final status (SUCCEEDED, PARTIALLY_SUCCEEDED or FAILED).",
            {
                "job_id": "The job's id (job_…).",
                "entity": "product, asset, campaign or audience.",
                "status": "SUCCEEDED, PARTIALLY_SUCCEEDED or FAILED.",
                "counters": "received, valid, quarantined, unchanged, stale, written, held (valid "
                "WooCommerce variations waiting for their parent product).",
                "request_id": "X-Request-ID of the call that created the job, or null.",
                "finished_at": "When the job finished (RFC 3339 UTC).",
            },
        ),
        EventSpec(
            EventType.CLIENT_PROVISIONED,
            "The client's AMS was provisioned: Airtable base, Drive folders and AMS config exist.",
            {
                "client_id": "The client (cli_…).",
                "base_id": "The Airtable base id.",
                "root_folder_id": "The client's Drive root folder id.",
                "config_version": "Version of the generated AMS config.",
                "provisioned_at": "When provisioning completed (RFC 3339 UTC).",
            },
        ),
        EventSpec(
            EventType.PRODUCT_SYNCED,
            "Product records were written to the client's AMS Airtable base.",
            {
                "external_ids": "The products' external ids (source platform ids).",
                "source_platform": "Where the products come from.",
                "base_id": "The Airtable base written to.",
                "job_id": "The ingest job that carried the change, or null.",
                "synced_at": "When the write completed (RFC 3339 UTC).",
            },
        ),
        EventSpec(
            EventType.ASSET_UPLOADED,
            "An asset's file was uploaded to the client's AMS Drive folder.",
            {
                "external_id": "The asset's external id.",
                "source_platform": "Where the asset record comes from.",
                "kind": "image, video, audio or document.",
                "file_id": "The Drive file id.",
                "folder_id": "The Drive folder the file is in.",
                "job_id": "The ingest job that carried the asset, or null.",
                "uploaded_at": "When the upload completed (RFC 3339 UTC).",
            },
        ),
        EventSpec(
            EventType.CONNECTION_UNHEALTHY,
            "A partner reported a platform connection STALE, REVOKED or ERROR (reportConnection"
            "Health) when it was not in that status before; the partner's detail is in "
            "syncHealth.",
            {
                "platform": "The source platform (shopify, hubspot, …).",
                "status": "STALE, REVOKED or ERROR.",
                "previous_status": "The status reported before, or null for a first report.",
                "since": "When this status began (RFC 3339 UTC).",
            },
        ),
        EventSpec(
            EventType.CONNECTION_RECOVERED,
            "A partner reported HEALTHY for a platform connection last reported STALE, REVOKED "
            "or ERROR.",
            {
                "platform": "The source platform (shopify, hubspot, …).",
                "previous_status": "STALE, REVOKED or ERROR.",
                "since": "When it became healthy again (RFC 3339 UTC).",
            },
        ),
        EventSpec(
            EventType.SUBJECT_ERASED,
            "A person was erased from the gateway and the client's AMS at the client's request "
            "(the identifier itself is never sent).",
            {
                "run_id": "The erasure run (ers_…), as in the eraseSubject receipt.",
                "identifier_kind": "email, phone or external_id: what the person was named by.",
                "removed": "Rows removed per place (canonical_records, staged_records, …).",
                "erased_at": "When the erasure completed (RFC 3339 UTC).",
            },
        ),
        EventSpec(
            EventType.RECONCILIATION_MISMATCHED,
            "An audit of the client's AMS base found rows that differ from the gateway's records "
            "(counts only; operators see which records in reconciliationRun).",
            {
                "run_id": "The reconciliation run (rcn_…).",
                "entity": "product, asset, campaign or audience.",
                "full": "True when every record was compared, false for a sample.",
                "checked": "Records compared.",
                "missing": "Records without a row in the base.",
                "extra": "Rows the gateway does not know (full runs only).",
                "duplicate": "Second rows for one record (same External ID and Source).",
                "field": "Records with at least one column that differs.",
                "finished_at": "When the run finished (RFC 3339 UTC).",
            },
        ),
    ]
}


class UnknownEventType(ValueError):
    pass


def event_type(name: str) -> EventType:
    try:
        return EventType(name)
    except ValueError:
        raise UnknownEventType(name) from None


def check_payload(type_: EventType, data: dict[str, object]) -> None:
    """Emitters must send exactly the documented fields: partners rely on the shape."""
    expected = set(CATALOG[type_].fields)
    if set(data) != expected:
        missing, extra = sorted(expected - set(data)), sorted(set(data) - expected)
        raise ValueError(f"{type_.value} payload: missing {missing}, undocumented {extra}")
