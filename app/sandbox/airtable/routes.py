"""HTTP transport of the Airtable emulator, mounted at /sandbox/airtable so that
`pyairtable.Api(test_key, endpoint_url=f"{gateway}/sandbox/airtable")` works unchanged.
Each handler authenticates the test key, counts the request against the base's rate limit,
opens a session (read-only for reads) and calls one service verb."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import MediaType, Request, Response, Router, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import sandbox_tenant
from app.db.engine import reading
from app.errors import AuthenticationError
from app.sandbox.airtable import service, wire
from app.sandbox.airtable.errors import (
    AirtableError,
    authentication_required,
    invalid_request,
    record_not_found,
    request_too_large,
)
from app.sandbox.airtable.faults import FaultInjector
from app.sandbox.airtable.ratelimit import BaseRateLimiter
from app.sandbox.airtable.schema import Json
from app.sandbox.airtable.store import TableRef
from app.services import Services
from app.settings import AirtableFault, Settings
from app.tenancy.models import Tenant

AnyRequest = Request[Any, Any, Any]
Limiter = NamedDependency[BaseRateLimiter]  # the router's per-base rate limiter
MAX_BODY_BYTES = 2 * 1024 * 1024


def _services(request: AnyRequest) -> Services:
    services: Services = request.app.state.services
    return services


async def _caller(request: AnyRequest) -> Tenant:
    """The client behind a test key; anything else is AUTHENTICATION_REQUIRED."""
    try:
        return await sandbox_tenant(_services(request), request)
    except AuthenticationError:
        raise authentication_required() from None


async def _admit(request: AnyRequest, limiter: BaseRateLimiter, base_id: str) -> Tenant:
    tenant = await _caller(request)
    faults = _faults(request)
    body = await request.body() if faults.targets(tenant.client_id) else b""
    await faults.strike(tenant.client_id, body)
    limiter.take(tenant.client_id, base_id)
    return tenant


def _faults(request: AnyRequest) -> FaultInjector:
    injector: FaultInjector = request.route_handler.opt["faults"]
    return injector


@asynccontextmanager
async def _writing(request: AnyRequest) -> AsyncIterator[AsyncSession]:
    async with _services(request).sessions() as session, session.begin():
        yield session


# Metadata


@get("/v0/meta/bases")
async def list_bases(request: AnyRequest) -> Json:
    tenant = await _caller(request)
    async with reading(_services(request).sessions) as session:
        return await service.list_bases(session, tenant, request.query_params.get("offset"))


@post("/v0/meta/bases", status_code=200)
async def create_base(request: AnyRequest) -> Json:
    tenant = await _caller(request)
    body = wire.json_body(await request.body())
    async with _writing(request) as session:
        return await service.create_base(session, tenant, body)


@get("/v0/meta/bases/{base_id:str}/tables")
async def base_schema(request: AnyRequest, limiter: Limiter, base_id: FromPath[str]) -> Json:
    tenant = await _admit(request, limiter, base_id)
    with_visible = "visibleFieldIds" in wire.repeated(request.query_params, "include")
    async with reading(_services(request).sessions) as session:
        return await service.base_schema(session, tenant, base_id, with_visible)


@post("/v0/meta/bases/{base_id:str}/tables", status_code=200)
async def create_table(request: AnyRequest, limiter: Limiter, base_id: FromPath[str]) -> Json:
    tenant = await _admit(request, limiter, base_id)
    body = wire.json_body(await request.body())
    async with _writing(request) as session:
        return await service.create_table(session, tenant, base_id, body)


@post("/v0/meta/bases/{base_id:str}/tables/{table:str}/fields", status_code=200)
async def create_field(
    request: AnyRequest, limiter: Limiter, base_id: FromPath[str], table: FromPath[str]
) -> Json:
    tenant = await _admit(request, limiter, base_id)
    ref = TableRef(base_id, table)
    body = wire.json_body(await request.body())
    async with _writing(request) as session:
        return await service.create_field(session, tenant, ref, body)


# Records


@get("/v0/{base_id:str}/{table:str}")
async def list_records(
    request: AnyRequest, limiter: Limiter, base_id: FromPath[str], table: FromPath[str]
) -> Json:
    tenant = await _admit(request, limiter, base_id)
    ref = TableRef(base_id, table)
    query = wire.list_query_from_params(request.query_params)
    async with reading(_services(request).sessions) as session:
        return await service.list_records(session, tenant, ref, query)


@post("/v0/{base_id:str}/{table:str}/listRecords", status_code=200)
async def list_records_by_post(
    request: AnyRequest, limiter: Limiter, base_id: FromPath[str], table: FromPath[str]
) -> Json:
    tenant = await _admit(request, limiter, base_id)
    ref = TableRef(base_id, table)
    query = wire.list_query_from_body(wire.json_body(await request.body()))
    async with reading(_services(request).sessions) as session:
        return await service.list_records(session, tenant, ref, query)


@get("/v0/{base_id:str}/{table:str}/{record_id:str}")
async def get_record(
    request: AnyRequest,
    limiter: Limiter,
    base_id: FromPath[str],
    table: FromPath[str],
    record_id: FromPath[str],
) -> Json:
    tenant = await _admit(request, limiter, base_id)
    ref = TableRef(base_id, table)
    by_field_id = wire.flag(request.query_params.get("returnFieldsByFieldId"))
    async with reading(_services(request).sessions) as session:
        return await service.get_record(session, tenant, ref, record_id, by_field_id)


@post("/v0/{base_id:str}/{table:str}", status_code=200)
async def create_records(
    request: AnyRequest, limiter: Limiter, base_id: FromPath[str], table: FromPath[str]
) -> Json:
    """`{"records": [...]}` creates a batch; `{"fields": {...}}` creates one record."""
    tenant = await _admit(request, limiter, base_id)
    ref = TableRef(base_id, table)
    body = wire.json_body(await request.body())
    batch = "records" in body
    inputs = wire.record_inputs(body) if batch else [wire.single_record_input(body)]
    async with _writing(request) as session:
        created = await service.create_records(
            session, tenant, ref, inputs, wire.write_options(body)
        )
    return {"records": created} if batch else created[0]


async def _update_many(
    request: AnyRequest, limiter: BaseRateLimiter, base_id: str, table: str, replace: bool
) -> Json:
    tenant = await _admit(request, limiter, base_id)
    ref = TableRef(base_id, table)
    body = wire.json_body(await request.body())
    inputs = wire.record_inputs(body)
    async with _writing(request) as session:
        return await service.update_records(
            session, tenant, ref, inputs, wire.write_options(body, replace)
        )


@patch("/v0/{base_id:str}/{table:str}")
async def update_records(
    request: AnyRequest, limiter: Limiter, base_id: FromPath[str], table: FromPath[str]
) -> Json:
    return await _update_many(request, limiter, base_id, table, replace=False)


@put("/v0/{base_id:str}/{table:str}")
async def replace_records(
    request: AnyRequest, limiter: Limiter, base_id: FromPath[str], table: FromPath[str]
) -> Json:
    return await _update_many(request, limiter, base_id, table, replace=True)


async def _update_one(
    request: AnyRequest, limiter: BaseRateLimiter, path: tuple[str, str, str], replace: bool
) -> Json:
    base_id, table, record_id = path
    tenant = await _admit(request, limiter, base_id)
    ref = TableRef(base_id, table)
    body = wire.json_body(await request.body())
    inputs = [wire.single_record_input(body, record_id)]
    options = wire.write_options(body, replace)
    if options.merge_on is not None:
        raise invalid_request("performUpsert is for the table endpoint")
    async with _writing(request) as session:
        result = await service.update_records(session, tenant, ref, inputs, options)
    return dict(result["records"][0])


@patch("/v0/{base_id:str}/{table:str}/{record_id:str}")
async def update_record(
    request: AnyRequest,
    limiter: Limiter,
    base_id: FromPath[str],
    table: FromPath[str],
    record_id: FromPath[str],
) -> Json:
    return await _update_one(request, limiter, (base_id, table, record_id), replace=False)


@put("/v0/{base_id:str}/{table:str}/{record_id:str}")
async def replace_record(
    request: AnyRequest,
    limiter: Limiter,
    base_id: FromPath[str],
    table: FromPath[str],
    record_id: FromPath[str],
) -> Json:
    return await _update_one(request, limiter, (base_id, table, record_id), replace=True)


@delete("/v0/{base_id:str}/{table:str}", status_code=200)
async def delete_records(
    request: AnyRequest, limiter: Limiter, base_id: FromPath[str], table: FromPath[str]
) -> Json:
    tenant = await _admit(request, limiter, base_id)
    ref = TableRef(base_id, table)
    record_ids = wire.record_ids_from_params(request.query_params)
    async with _writing(request) as session:
        deleted = await service.delete_records(session, tenant, ref, record_ids)
    return {"records": deleted}


@delete("/v0/{base_id:str}/{table:str}/{record_id:str}", status_code=200)
async def delete_record(
    request: AnyRequest,
    limiter: Limiter,
    base_id: FromPath[str],
    table: FromPath[str],
    record_id: FromPath[str],
) -> Json:
    tenant = await _admit(request, limiter, base_id)
    ref = TableRef(base_id, table)
    async with _writing(request) as session:
        deleted = await service.delete_records(session, tenant, ref, [record_id])
    return dict(deleted[0])


# Injected faults (GATEWAY_SANDBOX_AIRTABLE_FAULT_ADMIN): a test key arms bursts on its own bases


class FaultSchedule(BaseModel):
    bursts: list[AirtableFault]


@post("/_faults", status_code=200)
async def arm_faults(request: AnyRequest) -> Json:
    """Replace the caller's fault schedule: `{"bursts": [{"kind": "429", "count": 20}, …]}`."""
    tenant = await _caller(request)
    try:
        schedule = FaultSchedule.model_validate_json(await request.body())
    except ValidationError as error:
        raise invalid_request(f"Invalid fault schedule: {error.errors()[0]['msg']}") from None
    _faults(request).arm(tenant.client_id, schedule.bursts)
    return {"pending": _faults(request).pending(tenant.client_id)}


@get("/_faults")
async def pending_faults(request: AnyRequest) -> Json:
    tenant = await _caller(request)
    injector = _faults(request)
    return {"pending": injector.pending(tenant.client_id), "injected": dict(injector.injected)}


@delete("/_faults", status_code=200)
async def clear_faults(request: AnyRequest) -> Json:
    tenant = await _caller(request)
    _faults(request).clear(tenant.client_id)
    return {"pending": 0}


FAULT_HANDLERS = [arm_faults, pending_faults, clear_faults]


# Errors


def airtable_error_response(_: AnyRequest, error: AirtableError) -> Response[Any]:
    return Response(
        {"error": {"type": error.type, "message": error.message}},
        status_code=error.status,
        media_type=MediaType.JSON,
    )


def http_error_response(request: AnyRequest, error: HTTPException) -> Response[Any]:
    """Litestar's own refusals (body too large, bad path, wrong method) in Airtable's shape."""
    if error.status_code == 413:
        return airtable_error_response(request, request_too_large())
    if error.status_code == 404:
        return airtable_error_response(request, record_not_found())
    return airtable_error_response(
        request, AirtableError(error.status_code, "INVALID_REQUEST_UNKNOWN", str(error.detail))
    )


HANDLERS = [
    list_bases,
    create_base,
    base_schema,
    create_table,
    create_field,
    list_records,
    list_records_by_post,
    get_record,
    create_records,
    update_records,
    replace_records,
    update_record,
    replace_record,
    delete_records,
    delete_record,
]


def airtable_routes(settings: Settings) -> list[Router]:
    limiter = BaseRateLimiter(
        settings.sandbox_airtable_requests_per_second, settings.sandbox_airtable_penalty_seconds
    )

    def provide_limiter() -> BaseRateLimiter:
        return limiter

    faults = FaultInjector(
        settings.sandbox_airtable_faults, settings.sandbox_airtable_fault_timeout_seconds
    )
    admin = FAULT_HANDLERS if settings.sandbox_airtable_fault_admin else []
    router = Router(
        path="/sandbox/airtable",
        route_handlers=[*HANDLERS, *admin],
        opt={"faults": faults},
        dependencies={"limiter": Provide(provide_limiter, sync_to_thread=False)},
        exception_handlers={
            AirtableError: airtable_error_response,
            HTTPException: http_error_response,
        },
        request_max_body_size=MAX_BODY_BYTES,
        include_in_schema=False,
    )
    return [router]
