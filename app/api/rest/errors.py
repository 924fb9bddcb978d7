"""One error shape for every HTTP answer: {"error": {type, code, message, param, request_id}}."""

from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException

from app.errors import GatewayError

_TYPES = {
    400: "invalid_request",
    401: "authentication",
    403: "permission",
    404: "not_found",
    405: "invalid_request",
    409: "conflict",
    413: "invalid_request",
    429: "rate_limited",
}
_CODES = {
    400: "bad_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    429: "rate_limited",
}
_STATUS_OF_KIND = {
    "invalid_request": 400,
    "authentication": 401,
    "permission": 403,
    "not_found": 404,
    "conflict": 409,
}


def error_body(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    param: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": _TYPES.get(status, "api_error"),
        "code": code,
        "message": message,
        "param": param,
        "request_id": request.scope.get("state", {}).get("request_id"),
    }
    if errors:
        body["errors"] = errors
    return {"error": body}


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    code = extra.get("code") or _CODES.get(status, "error")
    message = exc.detail
    if status == 413:
        message = "The request body is larger than this gateway accepts; split the batch."
    headers = {"WWW-Authenticate": 'Bearer realm="gateway"'} if status == 401 else None
    return Response(
        error_body(request, status, code, message),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def gateway_error_handler(request: Request[Any, Any, Any], exc: GatewayError) -> Response[Any]:
    status = _STATUS_OF_KIND.get(exc.kind, 400)
    errors = [{"code": e.code, "message": e.message, "path": e.dotted_path} for e in exc.errors]
    param = exc.errors[0].dotted_path if exc.errors else None
    return Response(
        error_body(request, status, exc.code, exc.message, param, errors),
        status_code=status,
        media_type=MediaType.JSON,
    )
