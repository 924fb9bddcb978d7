"""Health, readiness, metrics, published contracts and the portal's static files."""

from ipaddress import ip_address
from pathlib import Path
from typing import Any

from litestar import HttpMethod, MediaType, Request, Response, get, route
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.response.base import ASGIResponse
from litestar.types import ControllerRouterHandler

from app.api.rest import portal_files
from app.api.rest.openapi import documented, error_example, error_response
from app.observability.database import DATABASE_GAUGES
from app.observability.exposition import exposition
from app.observability.readiness import check_readiness
from app.services import Services
from app.settings import Settings


@get("/health", media_type=MediaType.JSON, sync_to_thread=False, include_in_schema=False)
def health() -> dict[str, str]:
    """Liveness: the process answers. Nothing else is checked (see /ready)."""
    return {"status": "ok"}


@get("/ready", media_type=MediaType.JSON, include_in_schema=False)
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Readiness: 200 when every check passes, else 503 naming the checks that failed."""
    services: Services = request.app.state.services
    results = await check_readiness(services.settings, services.sessions)
    failed = [result.name for result in results if not result.ok]
    body = {
        "status": "unavailable" if failed else "ready",
        "failed": failed,
        "checks": {result.name: result.as_json() for result in results},
    }
    return Response(body, status_code=503 if failed else 200, media_type=MediaType.JSON)


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text format; 404 when disabled or when the caller is outside the allowed
    networks (GATEWAY_METRICS_ENABLED, GATEWAY_METRICS_ALLOWED_NETWORKS)."""
    services: Services = request.app.state.services
    settings = services.settings
    if not settings.metrics_enabled or not _may_scrape(request, settings):
        raise NotFoundException()
    await DATABASE_GAUGES.refresh(services.sessions, settings)
    body, content_type = exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)


def _may_scrape(request: Request[Any, Any, Any], settings: Settings) -> bool:
    allowed = settings.metrics_allowed_networks
    if not allowed:
        return True
    host = request.client.host if request.client else None
    try:
        peer = ip_address(host or "")
    except ValueError:
        return False
    return any(peer in network for network in allowed)


def contract_routes(contracts_dir: Path) -> list[ControllerRouterHandler]:
    published = {path.name: path for path in contracts_dir.glob("*.json")}

    @get(
        "/contracts/{name:str}",
        sync_to_thread=False,
        include_in_schema=True,
        operation_id="getContract",
        tags=["contracts"],
        summary="Read a published contract",
        description="The JSON Schema (2020-12) of an entity, e.g. product.schema.json, or this "
        "API's own openapi.json. No key needed.",
        security=[{}],
        media_type="application/schema+json",
        response_description="The contract document.",
        responses={
            404: error_response(
                "No published contract with that name.",
                not_found=error_example(
                    "not_found", "not_found", "No published contract named colour.schema.json."
                ),
            )
        },
        operation_class=documented(),
    )
    def contract(name: FromPath[str]) -> Response[Any]:
        path = published.get(name)
        if path is None:
            raise NotFoundException(detail=f"No published contract named {name}.")
        return Response(path.read_bytes(), media_type="application/schema+json")

    return [contract]


def portal_routes(settings: Settings) -> list[ControllerRouterHandler]:
    """GET/HEAD /portal/… from portal/dist, precompressed siblings negotiated (portal_files)."""
    dist = settings.portal_dist_dir

    @route(
        ["/portal", "/portal/{file_path:path}"],
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        name="portal",
        include_in_schema=False,
    )
    async def portal(request: Request[Any, Any, Any]) -> ASGIResponse:
        path = portal_files.locate(dist, request.scope["path"].removeprefix("/portal"))
        if path is None:
            raise NotFoundException()
        try:
            sent = portal_files.representation(dist, path, request.headers.get("accept-encoding"))
        except portal_files.NotAcceptable as refused:
            detail = "This file is sent as identity, gzip or br: accept one of them."
            raise HTTPException(
                status_code=406, detail=detail, extra={"code": "not_acceptable"}
            ) from refused
        if portal_files.not_modified(request.headers.get("if-none-match"), sent.etag):
            return ASGIResponse(status_code=304, headers=sent.headers)
        head = request.method == HttpMethod.HEAD
        return ASGIResponse(
            body=b"" if head else await portal_files.read(sent),
            headers={**sent.headers, "content-length": str(sent.size)},
            is_head_response=head,
        )

    return [portal]
