"""Request metrics: every answered call to a door, labelled by door and a bounded operation name.

The operation is the route template for REST and webhooks (`POST /ingest/products`, never the raw
path with its ids) and, for GraphQL, the operation type and root field the schema knows
(`mutation ingestProducts`), set by `OperationLabel` once the document is validated. Operation
names chosen by partners are never used: they are unbounded. A GraphQL call that never reached
execution (unparsable, invalid, refused before) is `invalid`.
"""

from collections.abc import Iterator
from functools import cache
from typing import Any

from litestar.types import Scope
from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension

from app.observability.metrics import GRAPHQL_ERRORS, REQUEST_SECONDS, REQUESTS
from graphql import DocumentNode, FieldNode, OperationDefinitionNode

OPERATION_KEY = "metrics_operation"
INVALID = "invalid"
_NOT_A_DOOR = ("/sandbox", "/portal", "/health", "/ready", "/metrics", "/schema")


def door_of(template: str) -> str | None:
    """graphql, rest or webhook; None for the gateway's own pages, probes and the sandbox."""
    if template == "/graphql":
        return "graphql"
    if template.startswith("/webhooks/"):
        return "webhook"
    if template in ("", "/") or template.startswith(_NOT_A_DOOR):
        return None
    return "rest"


def observe_request(scope: Scope, status: int | None, seconds: float) -> None:
    template = str(scope.get("path_template") or "")
    door = door_of(template)
    if door is None:
        return
    if door == "graphql":
        operation = str(scope.get("state", {}).get(OPERATION_KEY, INVALID))
    else:
        operation = f"{scope.get('method', 'GET')} {template}"
    count, duration = _series(door, operation, status or 500)
    count.inc()
    duration.observe(seconds)


@cache
def _series(door: str, operation: str, status: int) -> tuple[Counter, Histogram]:
    """The request's two labelled series, looked up once per label set: `.labels()` on every
    request is measurable, and the label sets are bounded (doors, operations, status codes)."""
    return REQUESTS.labels(door, operation, str(status)), REQUEST_SECONDS.labels(door, operation)


def operation_label(document: DocumentNode | None, operation_name: str | None) -> str:
    """`<type> <root field>`; `<type> (several)` when the operation selects more than one."""
    operations = [
        d
        for d in (document.definitions if document else ())
        if isinstance(d, OperationDefinitionNode)
    ]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return INVALID
    operation = operations[0]
    selections = operation.selection_set.selections
    kind = operation.operation.value
    if len(selections) == 1 and isinstance(selections[0], FieldNode):
        return f"{kind} {selections[0].name.value}"
    return f"{kind} (several)"


class OperationLabel(SchemaExtension):
    """Names the operation for the request metrics and counts GraphQL errors by code."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        label = operation_label(context.graphql_document, context.operation_name)
        request: Any = getattr(context.context, "request", None)
        if request is not None:
            request.scope.setdefault("state", {})[OPERATION_KEY] = label
        yield
        result = context.result
        for error in (result.errors or []) if result is not None else []:
            code = (error.extensions or {}).get("code", "error")
            GRAPHQL_ERRORS.labels(label, str(code)[:64]).inc()
