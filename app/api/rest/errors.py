"""One error shape for every HTTP answer: {"error": {type, code, message, param, request_id}}."""

from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from app.errors import GatewayError

_TYPES = {
    400: "invalid_request",
    401: "authentication",
    403: "permission",
    404: "not_found",
    405: "invalid_request",
    409: "conflict",
    413: "invalid_request",
    415: "invalid_request",
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
    415: "unsupported_media_type",
    429: "rate_limited",
}
# A malformed query parameter or header gets the code the service gives for a bad value of it.
_PARAMETER_CODES = {
    "first": "invalid_page_size",
    "after": "invalid_cursor",
}
_STATUS_OF_KIND = {
    "invalid_request": 400,
    "authentication": 401,
    "permission": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "configuration": 503,  # the operator must set something up; the caller can retry later
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
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        return _parameter_error(request, exc.extra)
    status = exc.status_code
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    code = extra.get("code") or _CODES.get(status, "error")
    message = exc.detail
    if status == 413:
        message = "The request body is larger than this gateway accepts; split the batch."
    headers = dict(exc.headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="gateway"'
    return Response(
        error_body(request, status, code, message),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def gateway_error_handler(request: Request[Any, Any, Any], exc: GatewayError) -> Response[Any]:
    status = _STATUS_OF_KIND.get(exc.kind, 400)
    errors = [{"code": e.code, "message": e.message, "path": e.dotted_path} for e in exc.errors]
    param = (exc.errors[0].dotted_path or None) if exc.errors else None
    return Response(
        error_body(request, status, exc.code, exc.message, param, errors),
        status_code=status,
        media_type=MediaType.JSON,
    )


def _parameter_error(request: Request[Any, Any, Any], problems: list[Any]) -> Response[Any]:
    """litestar's own validation of query, path and header parameters, in the one error shape."""
    errors = []
    for problem in problems:
        key = str(problem.get("key", "")) if isinstance(problem, dict) else ""
        in_body = isinstance(problem, dict) and problem.get("source") == "body"
        code = "invalid_field" if in_body else _PARAMETER_CODES.get(key, "invalid_parameter")
        message = problem.get("message", "") if isinstance(problem, dict) else str(problem)
        errors.append({"code": code, "message": f"{key or 'parameter'}: {message}", "path": key})
    first = errors[0] if errors else {"code": "invalid_parameter", "message": "", "path": ""}
    return Response(
        error_body(
            request,
            400,
            first["code"],
            first["message"] or "A parameter is not valid.",
            first["path"] or None,
            errors,
        ),
        status_code=400,
        media_type=MediaType.JSON,
    )
