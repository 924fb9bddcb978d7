"""Health, published contracts and the portal's static files."""

from pathlib import Path
from typing import Any

from litestar import MediaType, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from app.api.rest.openapi import documented, error_example, error_response
from app.settings import Settings


@get("/health", media_type=MediaType.JSON, sync_to_thread=False, include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


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
    return [
        create_static_files_router(
            path="/portal", directories=[settings.portal_dist_dir], html_mode=True, name="portal"
        )
    ]
