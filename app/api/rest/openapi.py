"""The OpenAPI document of the REST API: litestar generates it from the handlers; this module adds
what it cannot infer (the ingest request bodies, the error shape with examples, the bearer scheme)
and produces the published copy, contracts/openapi.json."""

from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
    Tag,
)
from litestar.params import HeaderParameter, Parameter, ParameterKwarg, QueryParameter

from app.api.rest.schemas import ErrorResponse
from app.contracts.entities import EXAMPLES, INLINE_CONTENT_CHARACTERS, Entity
from app.settings import Settings

TITLE = "Smart Gateway"
VERSION = "1.0.0"
SECURITY_SCHEME = "apiKey"
SECURITY: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]
UNDOCUMENTED_PREFIXES = ("/sandbox", "/graphql", "/portal", "/health", "/schema")
DEFAULT_MAX_RECORDS: int = Settings.model_fields["max_records_per_call"].default
DEFAULT_MAX_BULK_RECORDS: int = Settings.model_fields["max_bulk_records"].default
DEFAULT_MAX_RECORD_BYTES: int = Settings.model_fields["max_record_bytes"].default
INGEST_PATHS = {
    Entity.PRODUCT: "products",
    Entity.ASSET: "assets",
    Entity.CAMPAIGN: "campaigns",
    Entity.AUDIENCE: "audience",
}

DESCRIPTION = """\
Partners push records in the standard schema v1 shape; the gateway answers at once with a job and
processes the records in the background. Each record is validated on its own: an invalid record is
quarantined and reported on the job with its field path, the valid ones are stored.

Authenticate every call with `Authorization: Bearer <key>` (test keys write to the sandbox only).
Every error has one shape: `{"error": {"type", "code", "message", "param", "request_id",
"errors": [{"code", "message", "path"}]}}`. The same operations exist in GraphQL at `/graphql`.
The record contracts are published as JSON Schema at `/contracts/<entity>.schema.json`."""


def _ingest_request_schema(entity: Entity) -> Schema:
    contract = f"/contracts/{entity.value}.schema.json"
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["records"],
        additional_properties=False,
        properties={
            "records": Schema(
                type=OpenAPIType.ARRAY,
                min_items=1,
                max_items=DEFAULT_MAX_RECORDS,
                # Any JSON value: a record that is not an object is that record's error
                # (`invalid_type`), like any other invalid record; the call still goes through.
                items=Schema(
                    description=f"A {entity.value} record in the standard schema v1 shape "
                    f"({contract}): a JSON object with snake_case field names as in the "
                    "contract. Anything else is quarantined as `invalid_type`.",
                ),
                description=f"1 to {DEFAULT_MAX_RECORDS:,} {entity.value} records (the default "
                f"limit per call). Each is checked against {contract} on its own: an invalid "
                "record is quarantined and listed in the job's errors; it does not reject the "
                "call.",
            )
        },
        title=f"Ingest{INGEST_PATHS[entity].capitalize()}Request",
        description=f"{entity.value.capitalize()} records to ingest.",
        examples=[{"records": [EXAMPLES[entity]]}],
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        tags=[
            Tag(name="ingest", description="Push records; each call becomes a job."),
            Tag(name="jobs", description="Follow jobs and read their record errors."),
            Tag(name="contracts", description="The published record contracts."),
        ],
        components=Components(
            security_schemes={
                SECURITY_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="gw_<test|live>_<id>_<secret>",
                    description="A gateway API key: `Authorization: Bearer <key>`. Created with "
                    "`gateway keys create`; test keys only ever reach the sandbox.",
                )
            },
        ),
    )


class _Json(Enum):
    """litestar drops None from example values when it renders the document; an enum member
    whose value is None survives that step and is written as JSON null."""

    NULL = None


def keep_nulls(value: Any) -> Any:
    if value is None:
        return _Json.NULL
    if isinstance(value, dict):
        return {key: keep_nulls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keep_nulls(item) for item in value]
    return value


def _examples(named: dict[str, Any]) -> dict[str, Example | Reference]:
    return {
        name: Example(summary=name.replace("_", " "), value=keep_nulls(value))
        for name, value in named.items()
    }


def _header(description: str) -> OpenAPIHeader:
    return OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description=description)


REQUEST_ID_HEADER = _header("The request id: echoed when the call sent a valid one, else new.")
LOCATION_HEADER = _header("Where to follow the job: /jobs/{id}.")
REPLAYED_HEADER = _header("`true` when an Idempotency-Key replay returned the original job.")
WWW_AUTHENTICATE_HEADER = _header('`Bearer realm="gateway"`.')
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": _header(
        "Requests this API key may make at once (its token bucket's size). REST and GraphQL "
        "calls share one bucket per key; the default is set by GATEWAY_RATE_LIMIT_BURST and a "
        "client may have its own."
    ),
    "RateLimit-Remaining": _header("Requests this key may still make right now."),
    "RateLimit-Reset": _header("Seconds until the bucket is full again."),
}
RETRY_AFTER_HEADER = _header("Seconds until this key may make its next request.")
_RATE_LIMITED = "Too many requests for this API key: 200 at once, refilled over time. Retry in 1 s."


def error_media(examples: dict[str, dict[str, Any]]) -> dict[str, OpenAPIMediaType]:
    return {
        "application/json": OpenAPIMediaType(
            schema=Reference(ref="#/components/schemas/ErrorResponse"),
            examples=_examples(examples),
        )
    }


def _rate_limited_response() -> OpenAPIResponse:
    example = error_example("rate_limited", "rate_limited", _RATE_LIMITED)
    return OpenAPIResponse(
        description="This API key has used up its requests for now: retry after `Retry-After` "
        "seconds. Nothing was done.",
        content=error_media({"rate_limited": example}),
    )


_NO_SCOPE = "This operation needs a key with the 'ingest' scope."
_CLIENT_REQUIRED = (
    "Operator keys act on one client per request: name it with the 'Gateway-Client' header (cli_…)."
)


def _forbidden_response() -> OpenAPIResponse:
    return OpenAPIResponse(
        description="The key lacks the scope this operation needs (`insufficient_scope`), or a "
        "client key named another client in `Gateway-Client` (`client_mismatch`).",
        content=error_media(
            {"insufficient_scope": error_example("permission", "insufficient_scope", _NO_SCOPE)}
        ),
    )


def _client_required_response() -> OpenAPIResponse:
    return OpenAPIResponse(
        description="An operator key named no client (`client_required`).",
        content=error_media(
            {
                "client_required": error_example(
                    "invalid_request", "client_required", _CLIENT_REQUIRED
                )
            }
        ),
    )


def documented(
    request_body: RequestBody | None = None,
    examples: dict[str, dict[str, Any]] | None = None,
    headers: dict[str, dict[str, OpenAPIHeader]] | None = None,
) -> type[Operation]:
    """An Operation class for `operation_class=` that adds what litestar cannot infer: a request
    body read by hand (so envelope errors get our codes), examples of success bodies and response
    headers. litestar's generic 400 (in its own error shape) is dropped: parameter errors are
    answered in ours, and the handlers that can give them declare that 400."""

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            if request_body is not None:
                self.request_body = request_body
            responses = self.responses or {}
            keyed = "401" in responses  # authenticated by key, so rate limited by key
            if keyed:
                responses["403"] = _forbidden_response()
                bad_request = responses.get("400")
                if not isinstance(bad_request, OpenAPIResponse) or _is_litestar_validation_error(
                    bad_request
                ):
                    responses["400"] = _client_required_response()
                responses["429"] = _rate_limited_response()
            for status, response in list(responses.items()):
                if isinstance(response, Reference):
                    continue
                if _is_litestar_validation_error(response):
                    del responses[status]  # a handler that can answer 400 declares its own
                    continue
                extra = {"X-Request-ID": REQUEST_ID_HEADER} | (headers or {}).get(status, {})
                if status == "401":
                    extra["WWW-Authenticate"] = WWW_AUTHENTICATE_HEADER
                if keyed and status != "401":
                    extra |= RATE_LIMIT_HEADERS
                if status == "429":
                    extra["Retry-After"] = RETRY_AFTER_HEADER
                response.headers = {**(response.headers or {}), **extra}
                named = (examples or {}).get(status)
                for media in (response.content or {}).values():
                    if named:
                        media.examples = _examples(named)
                    elif media.examples:  # name ResponseSpec examples by summary, not by index
                        media.examples = {
                            _example_key(example, key): example
                            for key, example in media.examples.items()
                        }

    return DocumentedOperation


def _example_key(example: Example | Reference, default: str) -> str:
    summary = example.summary if isinstance(example, Example) else None
    return summary.replace(" ", "_") if summary else default


def _is_litestar_validation_error(response: OpenAPIResponse) -> bool:
    return any(
        isinstance(media.schema, Schema) and media.schema.description == "Validation Exception"
        for media in (response.content or {}).values()
    )


def ingest_request_body(entity: Entity) -> RequestBody:
    example = orjson.dumps(EXAMPLES[entity]).decode()
    return RequestBody(
        required=True,
        description=f'`{{"records": [...]}}` with {entity.value} records (application/json), or a '
        "bulk import: one record per line (application/x-ndjson). Either may be gzip-compressed "
        "(`Content-Encoding: gzip`; the limits apply to the decompressed size).",
        content={
            "application/json": OpenAPIMediaType(schema=_ingest_request_schema(entity)),
            "application/x-ndjson": OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.STRING,
                    description=f"One {entity.value} record (a JSON object, standard schema v1 "
                    "or the `platform`'s native shape) per line, UTF-8, lines ending in \\n. "
                    f"Up to {DEFAULT_MAX_BULK_RECORDS:,} records and {DEFAULT_MAX_RECORD_BYTES:,} "
                    f"bytes per line by default (assets: {INLINE_CONTENT_CHARACTERS:,} more, for "
                    "inline content); blank lines are skipped. The stream is stored as "
                    "it arrives: a line that cannot be read (not JSON, too long, a repeated key, "
                    "cut off at the end) is a record error whose index is its line number - 1.",
                ),
                examples={
                    "two_records": Example(
                        summary="two records",
                        value=f"{example}\n{example}\n",
                    )
                },
            ),
        },
    )


def error_example(type_: str, code: str, message: str, **extra: Any) -> dict[str, Any]:
    error = {
        "type": type_,
        "code": code,
        "message": message,
        "param": None,
        "request_id": "req_01jc3v9q7ws1m2e8a5k0d4t6yb",
    }
    return {"error": error | extra}


def field_error_example(
    code: str, message: str, path: str = "", field_code: str | None = None
) -> dict[str, Any]:
    """An invalid_request whose one field error repeats its message: `code` on the error,
    `field_code` (else the same) on the field error, its `path` as the error's param."""
    errors = [{"code": field_code or code, "message": message, "path": path}]
    return error_example("invalid_request", code, message, param=path or None, errors=errors)


def error_response(description: str, **examples: dict[str, Any]) -> ResponseSpec:
    return ResponseSpec(
        data_container=ErrorResponse,
        description=description,
        generate_examples=False,
        examples=[
            Example(summary=name.replace("_", " "), value=keep_nulls(value))
            for name, value in examples.items()
        ],
    )


def optional_string(
    description: str, header: str | None = None, query: str | None = None, **schema: Any
) -> ParameterKwarg:
    """A query or header parameter that may be left out (never null: HTTP has no null)."""
    common: dict[str, Any] = {
        "description": description,
        "required": False,
        "schema_extra": {"oneOf": None, "type": OpenAPIType.STRING, **schema},
    }
    if header is not None:
        return HeaderParameter(name=header, **common)
    if query is not None:
        return QueryParameter(name=query, **common)
    parameter: ParameterKwarg = Parameter(**common)
    return parameter


UNAUTHORIZED = error_response(
    "No API key, or one that is unknown, revoked or malformed.",
    missing_api_key=error_example(
        "authentication",
        "missing_api_key",
        "Authentication required: send 'Authorization: Bearer <key>' with a gateway API key.",
    ),
    invalid_api_key=error_example(
        "authentication",
        "invalid_api_key",
        "The API key is not valid: it is unknown or has been revoked.",
    ),
)
NOT_FOUND = error_response(
    "No job with that id for this client (another client's job looks exactly the same).",
    not_found=error_example("not_found", "not_found", "No job with that id."),
)
BAD_PAGE = error_response(
    "A paging or filter parameter is not valid.",
    invalid_parameter=field_error_example(
        "invalid_parameter", "status: Invalid enum value 'done'", "status"
    ),
    invalid_page_size=field_error_example("invalid_page_size", "first must be 1 to 500.", "first"),
    invalid_cursor=field_error_example(
        "invalid_cursor", "The cursor is not one this API returned.", "after"
    ),
)
_EMPTY = "records must hold at least one record."
_REPEATED = "records[1] repeats the key 'name' in one object; each key may appear once."
_TOO_LARGE = (
    "The request body is larger than this endpoint accepts (33,554,432 bytes); split it into "
    "smaller requests."
)
_BAD_ENCODING = (
    "Content-Encoding 'br' is not supported: send the body uncompressed or gzip-compressed "
    "(Content-Encoding: gzip)."
)
_NO_MAPPING = (
    "No mapping for woocommerce campaign records. Supported: hubspot audience, shopify product. "
    "Map the records to the standard schema and use the entity's ingest call instead."
)
INGEST_ERRORS: dict[int, ResponseSpec] = {
    400: error_response(
        "The request as a whole was rejected (nothing was stored): the body is not "
        '`{"records": [...]}` with 1 to the maximum records, an object in it repeats a key '
        f"(`duplicate_key`), a record is over {DEFAULT_MAX_RECORD_BYTES:,} bytes as JSON "
        "(`record_too_large`; assets: more by their inline content), the Idempotency-Key is not "
        "1 to 255 characters, `?platform=` names a platform with no mapping for this entity, or "
        "an unknown query parameter was sent.",
        empty_records=field_error_example("invalid_envelope", _EMPTY, "records", "empty_records"),
        malformed_json=field_error_example(
            "invalid_envelope",
            "The request body is not valid JSON: unexpected end of data: line 1 column 14.",
            field_code="malformed_json",
        ),
        duplicate_key=field_error_example(
            "invalid_envelope", _REPEATED, "records[1]", "duplicate_key"
        ),
        unsupported_mapping=field_error_example("unsupported_mapping", _NO_MAPPING, "platform"),
    ),
    401: UNAUTHORIZED,
    409: error_response(
        "The Idempotency-Key was already used with a different body.",
        idempotency_conflict=error_example(
            "conflict",
            "idempotency_conflict",
            "This Idempotency-Key was already used with a different request. Use a new key for "
            "new data, or resend exactly the original request to get its job.",
            param="Idempotency-Key",
            errors=[
                {
                    "code": "idempotency_conflict",
                    "message": "Key reused with a different body.",
                    "path": "Idempotency-Key",
                }
            ],
        ),
    ),
    413: error_response(
        "The body (decompressed, when gzip) is larger than the gateway accepts: JSON bodies and "
        "NDJSON streams have separate limits. A stream refused part-way fails its job.",
        body_too_large=field_error_example("body_too_large", _TOO_LARGE),
    ),
    415: error_response(
        "The body is neither application/json nor application/x-ndjson, or its Content-Encoding "
        "is neither gzip nor identity.",
        unsupported_media_type=error_example(
            "invalid_request",
            "unsupported_media_type",
            'Send the records as application/json ({"records": [...]}) or as '
            "application/x-ndjson (one record per line), not text/csv.",
        ),
        unsupported_content_encoding=field_error_example(
            "unsupported_content_encoding", _BAD_ENCODING, "Content-Encoding"
        ),
    ),
}


def queued_job_example(entity: Entity) -> dict[str, Any]:
    counters = ("valid", "quarantined", "unchanged", "stale", "written", "held", "processed")
    return {
        "id": "job_01jc3va2m5x7h9k4r8t0w6y2qe",
        "entity": entity.value,
        "status": "QUEUED",
        "door": "rest",
        "counters": {"received": 2} | dict.fromkeys(counters, 0),
        "idempotency_key": "catalog-sync-2026-11-01T10:00Z",
        "request_id": "req_01jc3v9q7ws1m2e8a5k0d4t6yb",
        "attempts": 0,
        "failure_reason": None,
        "created_at": "2026-11-01T10:00:02.118Z",
        "started_at": None,
        "finished_at": None,
        "errors": [],
        "errors_next_cursor": None,
    }


RECORD_ERROR_EXAMPLE = {
    "index": 1,
    "external_id": "8072389473",
    "code": "invalid_type",
    "message": 'amount must be a decimal string such as "49.90", never a JSON number.',
    "path": "records[1].price.amount",
}
FINISHED_JOB_EXAMPLE = queued_job_example(Entity.PRODUCT) | {
    "status": "PARTIALLY_SUCCEEDED",
    "counters": {
        "received": 2,
        "valid": 1,
        "quarantined": 1,
        "unchanged": 0,
        "stale": 0,
        "written": 1,
        "held": 0,
        "processed": 2,
    },
    "attempts": 1,
    "started_at": "2026-11-01T10:00:02.342Z",
    "finished_at": "2026-11-01T10:00:02.517Z",
    "errors": [RECORD_ERROR_EXAMPLE],
}
_SUMMARY = {k: v for k, v in FINISHED_JOB_EXAMPLE.items() if not k.startswith("errors")}
JOB_LIST_EXAMPLE = {
    "data": [_SUMMARY],
    "page_info": {"end_cursor": "am9iXzAxamMzdmEybTV4N2g5azRyOHQwdzZ5MnFl", "has_next_page": True},
}
RECORD_ERROR_LIST_EXAMPLE = {
    "data": [RECORD_ERROR_EXAMPLE],
    "page_info": {"end_cursor": "MTI", "has_next_page": False},
}


def openapi_document(schema: dict[str, Any]) -> dict[str, Any]:
    """The published document: the partner-facing paths only (never the sandbox emulators,
    GraphQL, the portal or health) and the components they use."""
    paths = {
        path: item
        for path, item in schema.get("paths", {}).items()
        if not path.startswith(UNDOCUMENTED_PREFIXES)
    }
    document = {**schema, "paths": paths}
    components = dict(document.get("components", {}))
    schemas = components.get("schemas", {})
    used = _referenced_schemas({"paths": paths}, schemas)
    components["schemas"] = {name: value for name, value in schemas.items() if name in used}
    document["components"] = components
    return document


def _referenced_schemas(root: Any, schemas: dict[str, Any]) -> set[str]:
    prefix = "#/components/schemas/"
    seen: set[str] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                name = ref.removeprefix(prefix)
                if name not in seen and name in schemas:
                    seen.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return seen


def published_openapi() -> dict[str, Any]:
    """The document contracts/openapi.json holds, generated from the real application."""
    from app.asgi import create_app
    from app.services import Services

    settings = Settings(redis_url=None)
    app = create_app(settings, Services.create(settings))
    return openapi_document(app.openapi_schema.to_schema())
