"""Turning domain errors into GraphQL errors with a code; hiding everything unexpected."""

from collections.abc import Iterator

import structlog
from strawberry.extensions import SchemaExtension

from app.errors import GatewayError
from graphql import GraphQLError

log = structlog.get_logger("gateway.graphql")


def _describe(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    if isinstance(original, GatewayError):
        error.message = original.message
        error.extensions = {
            "code": original.code,
            "errors": [
                {"code": e.code, "message": e.message, "path": e.dotted_path}
                for e in original.errors
            ],
        }
        return error
    log.error("graphql.unexpected_error", path=error.path, exc_info=original)
    return GraphQLError(
        "Internal error. Quote the request id (X-Request-ID header) when reporting it.",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "internal_error"},
    )


class DomainErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_describe(error) for error in result.errors]
