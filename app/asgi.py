"""create_app(): the Litestar application with every door mounted."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from app.api.graphql.controller import make_controller
from app.api.request_id import RequestIdMiddleware
from app.api.rest.errors import gateway_error_handler, http_exception_handler
from app.api.rest.openapi import openapi_config
from app.api.rest.routes import rest_router
from app.api.rest.system import contract_routes, health, metrics, portal_routes, ready
from app.errors import GatewayError
from app.logs import configure_logging
from app.sandbox.airtable.routes import airtable_routes
from app.sandbox.drive.routes import drive_routes
from app.services import Services
from app.settings import Settings, get_settings


@get("/", sync_to_thread=False, include_in_schema=False)
def root() -> Redirect:
    return Redirect(path="/portal/")


def create_app(settings: Settings | None = None, services: Services | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    services = services or Services.create(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    handlers = [
        make_controller(settings.portal_dist_dir, settings.sandbox_enabled),
        health,
        ready,
        metrics,
        root,
        rest_router(),
        *contract_routes(settings.contracts_dir),
        *portal_routes(settings),
        *(drive_routes() if settings.sandbox_enabled else []),
        *(airtable_routes(settings) if settings.sandbox_enabled else []),
    ]
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        exception_handlers={
            HTTPException: http_exception_handler,
            GatewayError: gateway_error_handler,
        },
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
        include_in_schema=False,  # documented: the REST router and /contracts, nothing else
        state=State({"services": services}),
        debug=False,
        logging_config=None,
    )
    # Outside the router, so answers the router gives itself (404, 405) carry a request id too.
    app.asgi_handler = RequestIdMiddleware(app.asgi_handler)
    return app


__all__ = ["create_app"]
