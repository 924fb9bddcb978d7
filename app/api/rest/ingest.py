"""POST /ingest/{products,assets,campaigns,audience}: the REST door to the same `submit_ingest`
GraphQL's ingest mutations call. Authenticate, read the envelope, call the service, map errors."""

from dataclasses import replace
from typing import Annotated, Any

import msgspec
import orjson
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

from app import exact_json
from app.api.rest import openapi
from app.api.rest.schemas import ERRORS_ON_JOB, JobDetail, job_detail
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.db.models import RecordError
from app.errors import FieldError, GatewayError
from app.ingest.bulk import NDJSON_MEDIA_TYPE, import_ndjson
from app.ingest.repeated_keys import first_repeated_key, repeated_key_error
from app.ingest.service import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    IngestAccepted,
    IngestRequest,
    canonical_records,
    submit_ingest,
    unsupported_mapping,
)
from app.ingest.streams import UploadInterrupted, body_too_large, content_encoding, decoded_chunks
from app.jobs import service as jobs
from app.jobs.models import Door
from app.pagination import Page
from app.privacy.staged_subjects import Subject
from app.services import Services
from app.tenancy.models import Principal
from app.transform.loader import mappings

JSON_MEDIA_TYPE = "application/json"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_GRAPHQL_KEY_FIELD = "idempotencyKey"

PLATFORM_PARAMETER = "platform"
PlatformParameter = Annotated[
    str | None,
    openapi.optional_string(
        "The platform whose native shape the records are in (e.g. a Shopify products.json "
        "page); they are mapped to the standard schema by the platform's mapping rules, exactly "
        "as GraphQL's ingestRaw does. Without it, records are in the standard schema v1 shape. "
        "A platform with no mapping for this entity is a 400 `unsupported_mapping` listing the "
        "supported pairs.",
        query=PLATFORM_PARAMETER,
        enum=[platform.value for platform in SourcePlatform],
    ),
]
IdempotencyKey = Annotated[
    str | None,
    openapi.optional_string(
        "Retrying with the same key and the same body returns the first job (200, "
        f"`{REPLAYED_HEADER}: true`) instead of creating another; the same key with a different "
        "body is a 409 `idempotency_conflict`. Keys are scoped to the client and mode.",
        header=IDEMPOTENCY_HEADER,
        minLength=1,
        maxLength=MAX_IDEMPOTENCY_KEY_LENGTH,
    ),
]


def requested_platform(
    request: Request[Any, Any, Any], entity: Entity, value: str | None
) -> SourcePlatform | None:
    """`?platform=` names the native shape the records are in (mapped as ingestRaw maps them);
    without it they are standard records. A platform with no mapping for this entity, and any
    other query parameter, is a 400 naming it."""
    for name in request.query_params:
        if name != PLATFORM_PARAMETER:
            message = f"Unknown query parameter {name!r}: this endpoint takes only 'platform'."
            raise GatewayError(
                "unsupported_parameter",
                message,
                errors=[FieldError("unsupported_parameter", message, (name,))],
            )
    if value is None:
        return None
    try:
        platform = SourcePlatform(value)
    except ValueError:
        raise unsupported_mapping(value, entity) from None
    if (platform, entity) not in mappings():
        raise unsupported_mapping(platform.value, entity)
    return platform


def body_media_type(request: Request[Any, Any, Any]) -> str:
    """JSON (`{"records": [...]}`) or an NDJSON stream; anything else is a 415."""
    media_type = request.headers.get("content-type", JSON_MEDIA_TYPE).split(";")[0].strip().lower()
    if media_type not in (JSON_MEDIA_TYPE, NDJSON_MEDIA_TYPE):
        raise HTTPException(
            status_code=415,
            detail=f'Send the records as {JSON_MEDIA_TYPE} ({{"records": [...]}}) or as '
            f"{NDJSON_MEDIA_TYPE} (one record per line), not {media_type or 'nothing'}.",
            extra={"code": "unsupported_media_type"},
        )
    return media_type


class _Envelope(msgspec.Struct, forbid_unknown_fields=True):
    records: list[msgspec.Raw]


_read_envelope = msgspec.json.Decoder(_Envelope).decode


def envelope_records(body: bytes, entity: Entity) -> tuple[list[Any], list[Subject] | None]:
    """The `records` of a `{"records": [...]}` body, each in canonical form, and whom each names
    (see canonical_records; None when not read here); anything else is a 400 naming the problem.
    The body is cut into records without parsing them into objects."""
    try:
        envelope = _read_envelope(body)
        if body.count(b'"records"') > 1:  # msgspec keeps the last of two `records`: say so
            _refuse_a_repeated_key(body)
        return canonical_records(map(memoryview, envelope.records), entity)
    except (msgspec.DecodeError, orjson.JSONDecodeError, RecursionError):  # msgspec: deep nesting
        return checked_envelope_records(body), None


def _refuse_a_repeated_key(body: bytes) -> None:
    if (key := first_repeated_key(body)) is not None:
        raise repeated_key_error(key, "The request body", ())


def checked_envelope_records(body: bytes) -> list[Any]:
    """The envelope read whole, the slow way that names each problem it finds."""
    try:
        document = exact_json.loads(body)
    except orjson.JSONDecodeError as error:
        raise _envelope_error(
            "malformed_json", f"The request body is not valid JSON: {error}."
        ) from None
    _refuse_a_repeated_key(body)
    if not isinstance(document, dict):
        raise _envelope_error(
            "body_not_object", 'The request body must be a JSON object: {"records": [...]}.'
        )
    problems = [
        FieldError(
            "unknown_field",
            f"Unknown field {name!r}: the body holds only 'records' (send the idempotency key "
            f"in the {IDEMPOTENCY_HEADER} header).",
            (name,),
        )
        for name in document
        if name != "records"
    ]
    if "records" not in document:
        problems.append(FieldError("missing_records", "records is required.", ("records",)))
    elif not isinstance(document["records"], list):
        problems.append(
            FieldError("records_not_a_list", "records must be a JSON array.", ("records",))
        )
    if problems:
        raise GatewayError("invalid_envelope", problems[0].message, errors=problems)
    records: list[Any] = document["records"]
    return records


async def accept(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    ingest_request: IngestRequest,
) -> IngestAccepted:
    """The body is read (bounded, gzip decoded) only once authentication has succeeded; an NDJSON
    stream goes to the bulk import, a JSON envelope to the one ingest service."""
    settings = services.settings
    media_type = body_media_type(request)
    encoding = content_encoding(request.headers)
    bulk = media_type == NDJSON_MEDIA_TYPE
    limit = settings.max_bulk_body_bytes if bulk else settings.max_body_bytes
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise body_too_large(limit)
    body = decoded_chunks(request.receive, encoding, limit, settings.upload_idle_timeout_seconds)
    if bulk:
        return await import_ndjson(services, principal, ingest_request, body)
    records, subjects = envelope_records(
        b"".join([chunk async for chunk in body]), ingest_request.entity
    )
    return await submit_ingest(
        services, principal, replace(ingest_request, records=records, subjects=subjects)
    )


async def first_record_errors(
    services: Services, principal: Principal, accepted: IngestAccepted
) -> Page[RecordError]:
    """The errors the answer shows: a job accepted just now has none, unless its stream had
    unreadable lines; a replayed one may have been processed since."""
    if not (accepted.replayed or accepted.job.quarantined):
        return Page(items=[], end_cursor=None, has_next_page=False)
    async with reading(services.sessions) as session:
        return await jobs.list_record_errors(
            session, principal.tenant, accepted.job.id, ERRORS_ON_JOB, None
        )


def _envelope_error(code: str, message: str) -> GatewayError:
    return GatewayError("invalid_envelope", message, errors=[FieldError(code, message, ())])


def _in_rest_terms(error: GatewayError) -> GatewayError:
    """The service names the key as GraphQL does (idempotencyKey); REST sends it as a header."""
    error.message = error.message.replace(_GRAPHQL_KEY_FIELD, IDEMPOTENCY_HEADER)
    error.errors = [
        FieldError(
            e.code,
            e.message.replace(_GRAPHQL_KEY_FIELD, IDEMPOTENCY_HEADER),
            (IDEMPOTENCY_HEADER,) if e.path == (_GRAPHQL_KEY_FIELD,) else e.path,
        )
        for e in error.errors
    ]
    return error


def _ingest_handler(entity: Entity) -> HTTPRouteHandler:
    segment = openapi.INGEST_PATHS[entity]
    name = f"ingest{segment.capitalize()}"

    async def ingest(
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        idempotency_key: IdempotencyKey = None,
        platform: PlatformParameter = None,
    ) -> Response[JobDetail]:
        ingest_request = IngestRequest(
            entity=entity,
            records=[],
            idempotency_key=idempotency_key,
            door=Door.REST,
            request_id=request.scope["state"].get("request_id"),
            source_platform=requested_platform(request, entity, platform),
        )
        try:
            accepted = await accept(request, services, principal, ingest_request)
        except GatewayError as error:
            raise _in_rest_terms(error) from None
        except UploadInterrupted as interrupted:  # the failed job says so too
            raise HTTPException(
                status_code=400,
                detail=f"The upload was interrupted ({interrupted.reason}); its job was failed.",
                extra={"code": "upload_interrupted"},
            ) from None
        errors = await first_record_errors(services, principal, accepted)
        headers = {"Location": f"/jobs/{accepted.job.id}"}
        if accepted.replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(
            job_detail(accepted.job, errors),
            status_code=200 if accepted.replayed else 202,
            headers=headers,
        )

    example = openapi.queued_job_example(entity)
    return post(
        f"/ingest/{segment}",
        name=name,
        operation_id=name,
        status_code=202,
        tags=["ingest"],
        summary=f"Push {entity.value} records",
        description=(
            f"Accepts 1 to {openapi.DEFAULT_MAX_RECORDS:,} {entity.value} records "
            f"(`/contracts/{entity.value}.schema.json`) and answers at once with the queued job "
            "(202, `Location: /jobs/{id}`). Records are validated by the worker, each on its own: "
            "follow the job at GET /jobs/{id} for counters and record errors. With an "
            f"`{IDEMPOTENCY_HEADER}`, a retry of the same body returns the first job (200). "
            "With `?platform=`, the records are in that platform's native shape.\n\n"
            f"**Bulk import**: send `Content-Type: {NDJSON_MEDIA_TYPE}`, one record per line, "
            "for up to a million records in one job. The stream is stored as it arrives (the "
            "job's `received` grows meanwhile) and the job is queued when it ends; a line that "
            "cannot be read is a record error with its line number, its neighbours are kept. A "
            "stream that does not end (the connection drops, a limit is crossed) fails its job "
            "with the last line read and processes none of it; retry the whole stream, with the "
            "same Idempotency-Key if you sent one."
        ),
        response_description="The job was created and queued.",
        responses={
            200: ResponseSpec(
                data_container=JobDetail,
                description=f"A replay: this {IDEMPOTENCY_HEADER} was seen with the same body; "
                f"the original job is returned (`{REPLAYED_HEADER}: true`, `Location` set).",
                generate_examples=False,
            ),
            **openapi.INGEST_ERRORS,
        },
        operation_class=openapi.documented(
            request_body=openapi.ingest_request_body(entity),
            examples={"202": {"queued": example}, "200": {"replayed": example}},
            headers={
                "202": {"Location": openapi.LOCATION_HEADER},
                "200": {
                    "Location": openapi.LOCATION_HEADER,
                    REPLAYED_HEADER: openapi.REPLAYED_HEADER,
                },
            },
        ),
    )(ingest)


INGEST_HANDLERS = [_ingest_handler(entity) for entity in Entity]
