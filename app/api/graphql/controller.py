"""The /graphql endpoint: strawberry's Litestar controller with orjson, clear JSON errors and our
own GraphiQL page (built by portal/, every asset served locally)."""

from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from litestar import MediaType, Request, Response
from litestar.controller import Controller
from strawberry.litestar import make_graphql_controller

from app.api.graphql.context import graphql_context
from app.api.graphql.schema import schema
from app.api.rest.errors import error_body
from app.ratelimit.http import RateLimitHeadersMiddleware, remember
from app.ratelimit.service import rate_limited

GRAPHIQL_PAGE = "graphiql.html"


def make_controller(portal_dist: Path, sandbox_enabled: bool) -> type[Controller]:
    base = make_graphql_controller(
        schema,
        path="/graphql",
        context_getter=graphql_context,
        graphql_ide="graphiql" if sandbox_enabled else None,
        allow_queries_via_get=False,
    )

    class GraphQLController(base):  # type: ignore[valid-type,misc]
        middleware = [RateLimitHeadersMiddleware]

        def decode_json(self, data: str | bytes) -> object:
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError as error:
                raise HTTPException(400, f"The request body is not valid JSON: {error}") from error

        def parse_json(self, data: str | bytes) -> Any:
            return self.decode_json(data)

        async def execute_request(
            self, request: Request[Any, Any, Any], context: Any, root_value: Any
        ) -> Response[Any]:
            refused = await _rate_limit(request, context)
            if refused is not None:
                return refused
            try:
                return await self.run(request, context=context, root_value=root_value)  # type: ignore[no-any-return]
            except HTTPException as error:
                status = error.status_code
                code = "bad_request" if status == 400 else "method_not_allowed"
                return Response(
                    error_body(request, status, code, error.reason),
                    status_code=status,
                    media_type=MediaType.JSON,
                )

        def encode_json(self, data: object) -> bytes:
            return orjson.dumps(data)

        async def render_graphql_ide(self, request: Request[Any, Any, Any]) -> Response[str]:
            page = portal_dist / GRAPHIQL_PAGE
            if not page.is_file():
                return Response(
                    "The GraphQL explorer is not built: run ./gateway.sh serve (it builds portal/)",
                    status_code=503,
                    media_type=MediaType.TEXT,
                )
            return Response(page.read_text(), media_type=MediaType.HTML)

    return GraphQLController


async def _rate_limit(request: Request[Any, Any, Any], context: Any) -> Response[Any] | None:
    """A keyed request takes a token from its key's bucket (the one REST calls share); without
    one it gets a GraphQL error, `rate_limited`, with the bucket's numbers in `extensions`."""
    principal = getattr(context, "principal", None)
    if principal is None:
        return None
    decision = await context.services.rate_limiter.take_api(principal)
    remember(request.scope, decision)
    if decision is None or decision.allowed:
        return None
    error = rate_limited(decision)
    extensions = {
        "code": error.code,
        "limit": decision.limit,
        "remaining": decision.remaining,
        "reset": decision.reset_seconds,
        "retryAfter": decision.retry_after_seconds,
    }
    return Response(
        {"errors": [{"message": error.message, "extensions": extensions}]},
        status_code=429,
        media_type=MediaType.JSON,
    )
