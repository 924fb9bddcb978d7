"""POST /ingest/{products,assets,campaigns,audience}: the REST door to the same `submit_ingest`
GraphQL's ingest mutations call. Authenticate, read the envelope, call the service, map errors."""

from typing import Annotated, Any

import orjson
from litestar import Request, Response, post
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

from app.api.rest import openapi
from app.api.rest.schemas import ERRORS_ON_JOB, JobDetail, job_detail
from app.contracts.entities import Entity
from app.db.engine import reading
from app.errors import FieldError, GatewayError
from app.ingest.service import MAX_IDEMPOTENCY_KEY_LENGTH, IngestRequest, submit_ingest
from app.jobs import service as jobs
from app.jobs.models import Door
from app.services import Services
from app.tenancy.models import Principal

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_GRAPHQL_KEY_FIELD = "idempotencyKey"

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


def envelope_records(request: Request[Any, Any, Any], body: bytes) -> list[Any]:
    """The `records` of a `{"records": [...]}` body; anything else is a 400 naming the problem.
    The body is read only after authentication (the handler's dependencies) succeeded."""
    if request.query_params:
        name = next(iter(request.query_params))
        message = (
            "Platform-native records (?platform=) are not accepted on this endpoint yet: send "
            "records in the standard schema v1 shape."
            if name == "platform"
            else f"Unknown query parameter {name!r}: this endpoint takes none."
        )
        raise GatewayError(
            "unsupported_parameter",
            message,
            errors=[FieldError("unsupported_parameter", message, (name,))],
        )
    media_type = request.headers.get("content-type", "application/json").split(";")[0]
    if media_type.strip().lower() != "application/json":
        raise HTTPException(
            status_code=415,
            detail=f"Send the records as application/json, not {media_type.strip() or 'nothing'}.",
            extra={"code": "unsupported_media_type"},
        )
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise _envelope_error(
            "malformed_json", f"The request body is not valid JSON: {error}."
        ) from None
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
        services: Services,
        principal: Principal,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[JobDetail]:
        ingest_request = IngestRequest(
            entity=entity,
            records=envelope_records(request, await request.body()),
            idempotency_key=idempotency_key,
            door=Door.REST,
            request_id=request.scope["state"].get("request_id"),
        )
        try:
            accepted = await submit_ingest(services, principal, ingest_request)
        except GatewayError as error:
            raise _in_rest_terms(error) from None
        async with reading(services.sessions) as session:
            errors = await jobs.list_record_errors(
                session, principal.tenant, accepted.job.id, ERRORS_ON_JOB, None
            )
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
            f"`{IDEMPOTENCY_HEADER}`, a retry of the same body returns the first job (200)."
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
