"""The /graphql endpoint: strawberry's Litestar controller with orjson, clear JSON errors and our
own GraphiQL page (built by portal/, every asset served locally).

GraphQL over HTTP: a client that accepts `application/graphql-response+json` gets that media type
and its status codes (a request that fails before execution — unparsable, invalid, bad variables
— is a 400 without `data`; an executed one is a 200); other clients get the legacy
`application/json` (always 200 once the request is well-formed HTTP). Queries may use GET,
mutations only POST (GET → 405 with `Allow: POST`); POST bodies must be `application/json`."""

from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from litestar import MediaType, Request, Response
from litestar.controller import Controller
from strawberry.http import GraphQLRequestData
from strawberry.litestar import make_graphql_controller
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from app import exact_json
from app.api.graphql.context import graphql_context
from app.api.graphql.media import (
    GRAPHQL_RESPONSE,
    is_request_error,
    negotiate,
    unsupported_content_type,
)
from app.api.graphql.schema import schema
from app.api.rest import portal_files
from app.api.rest.errors import error_body
from app.ingest.repeated_keys import read_document, repeated_key_message
from app.ratelimit.http import RateLimitHeadersMiddleware, remember
from app.ratelimit.service import rate_limited

GRAPHIQL_PAGE = "graphiql.html"
_REQUEST_ERROR = "graphql_request_error"
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


def make_controller(portal_dist: Path, sandbox_enabled: bool) -> type[Controller]:
    base = make_graphql_controller(
        schema,
        path="/graphql",
        context_getter=graphql_context,
        graphql_ide="graphiql" if sandbox_enabled else None,
        allow_queries_via_get=True,
    )

    class GraphQLController(base):  # type: ignore[valid-type,misc]
        middleware = [RateLimitHeadersMiddleware]

        def decode_json(self, data: str | bytes) -> object:
            try:
                value, key = read_document(data.encode() if isinstance(data, str) else data)
            except orjson.JSONDecodeError as error:
                raise HTTPException(400, f"The request body is not valid JSON: {error}") from error
            if key is not None:
                raise HTTPException(400, repeated_key_message(key, "The request body"))
            return value

        def parse_json(self, data: str | bytes) -> Any:
            return self.decode_json(data)

        async def execute_request(
            self, request: Request[Any, Any, Any], context: Any, root_value: Any
        ) -> Response[Any]:
            media_type = negotiate(request.headers.get("accept"))
            if media_type is None and not self.should_render_graphql_ide(
                self.request_adapter_class(request)
            ):
                message = "Accept application/graphql-response+json or application/json."
                return _http_error(request, 406, "not_acceptable", message)
            refused = await _rate_limit(request, context)
            if refused is not None:
                return refused
            if unsupported_content_type(request.method, request.headers.get("content-type")):
                message = "A GraphQL POST body must be application/json."
                return _http_error(request, 415, "unsupported_media_type", message)
            try:
                response: Response[Any] = await self.run(
                    request, context=context, root_value=root_value
                )
            except HTTPException as error:
                status, code = error.status_code, _HTTP_CODES.get(error.status_code, "error")
                # Other methods never get here (the router answers them): this is GET + mutation.
                headers = {"Allow": "POST"} if status == 405 else None
                return _http_error(request, status, code, error.reason, headers)
            if media_type == GRAPHQL_RESPONSE and response.media_type == MediaType.JSON:
                response.media_type = GRAPHQL_RESPONSE
                if request.scope.get("state", {}).get(_REQUEST_ERROR):
                    response.status_code = 400
            return response

        async def execute_single(
            self,
            request: Request[Any, Any, Any],
            request_adapter: AsyncHTTPRequestAdapter,
            sub_response: Response[Any],
            context: Any,
            root_value: Any,
            request_data: GraphQLRequestData,
        ) -> ExecutionResult:
            try:
                result: ExecutionResult = await super().execute_single(
                    request, request_adapter, sub_response, context, root_value, request_data
                )
            except HTTPException as error:
                if request_adapter.method == "GET" and isinstance(
                    error.__cause__, InvalidOperationTypeError
                ):
                    raise HTTPException(405, "Mutations are only accepted with POST.") from error
                raise
            return result

        async def process_result(
            self, request: Request[Any, Any, Any], result: ExecutionResult
        ) -> Any:
            processed = await super().process_result(request, result)
            if is_request_error(result):
                # Nothing was executed: per the GraphQL spec there is no `data` entry at all.
                processed.pop("data", None)
                request.scope.setdefault("state", {})[_REQUEST_ERROR] = True
            return processed

        def encode_json(self, data: object) -> bytes:
            return exact_json.dumps(data)

        async def render_graphql_ide(self, request: Request[Any, Any, Any]) -> Response[Any]:
            page = portal_files.locate(portal_dist, GRAPHIQL_PAGE)
            if page is None:
                return Response(
                    "The GraphQL explorer is not built: run ./gateway.sh serve (it builds portal/)",
                    status_code=503,
                    media_type=MediaType.TEXT,
                )
            return await _graphiql_page(request, portal_dist, page)

    return GraphQLController


async def _graphiql_page(
    request: Request[Any, Any, Any], portal_dist: Path, page: Path
) -> Response[Any]:
    """The explorer's page sent as the portal's files are: a precompressed sibling chosen by
    Accept-Encoding, a content ETag and 304 on a match (app.api.rest.portal_files)."""
    try:
        sent = portal_files.representation(
            portal_dist, page, request.headers.get("accept-encoding")
        )
    except portal_files.NotAcceptable:
        message = "This page is sent as identity, gzip or br: accept one of them."
        return _http_error(request, 406, "not_acceptable", message)
    # /graphql answers JSON to other Accept values: caches must key on both headers.
    headers = {**sent.headers, "vary": "Accept, Accept-Encoding"}
    if portal_files.not_modified(request.headers.get("if-none-match"), sent.etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(await portal_files.read(sent), headers=headers, media_type=MediaType.HTML)


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


def _http_error(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    return Response(
        error_body(request, status, code, message),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )
