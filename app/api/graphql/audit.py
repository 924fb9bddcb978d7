"""Auditing every GraphQL mutation (an extension: resolvers don't have to remember), and the
operators' view of the audit log."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import Info
from strawberry.types.graphql import OperationType

from app.api.graphql.permissions import allowed
from app.api.graphql.types import PageInfo
from app.api.source_address import source_address
from app.audit import service as audit
from app.audit.models import AuditEvent as AuditEventRow
from app.audit.service import AuditEntry, AuditFilter
from app.db.engine import reading
from app.tenancy import policy
from graphql import FieldNode, OperationDefinitionNode

ID_KEYS = ("id", "ids")
NOT_TARGETS = frozenset({"requestId"})
# Root fields whose arguments name a person (app.privacy): their variables are not scanned for
# ids (an externalId is personal data); their resolvers audit a salted hash instead.
PERSONAL_ARGUMENTS = frozenset({"eraseSubject"})


def _ids_in(value: Any, depth: int = 3) -> list[str]:
    """Ids named in arguments or results: values of `id`, `ids` and `…Id`/`…Ids` keys."""
    if depth == 0 or not isinstance(value, dict | list):
        return []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    found: list[str] = []
    for key, item in items:
        named_id = isinstance(key, str) and _names_an_id(key)
        if named_id and isinstance(item, str):
            found.append(item)
        elif named_id and isinstance(item, list):
            found.extend(entry for entry in item if isinstance(entry, str))
        else:
            found.extend(_ids_in(item, depth - 1))
    return found


def _names_an_id(key: str) -> bool:
    return key not in NOT_TARGETS and (key in ID_KEYS or key.endswith(("Id", "Ids")))


def _root_fields(document: Any, operation_name: str | None) -> list[FieldNode]:
    for definition in getattr(document, "definitions", []):
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is None or (definition.name and definition.name.value == operation_name):
            return [
                node for node in definition.selection_set.selections if isinstance(node, FieldNode)
            ]
    return []


def _outcome(key: str, data: dict[str, Any] | None, errors: list[Any]) -> str:
    for error in errors:
        if error.path and error.path[0] == key:
            return str((error.extensions or {}).get("code", "error"))
    payload = (data or {}).get(key)
    problems = payload.get("errors") if isinstance(payload, dict) else None
    if problems:
        return str(problems[0].get("code", "error"))
    return "ok"


class AuditMutations(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield
        run = self.execution_context
        if run.operation_type is not OperationType.MUTATION or run.result is None:
            return
        context = run.context
        request = context.request
        nodes = _root_fields(run.graphql_document, run.operation_name)
        personal = any(node.name.value in PERSONAL_ARGUMENTS for node in nodes)
        named = [] if personal else _ids_in(run.variables or {})
        for node in nodes:
            key = node.alias.value if node.alias else node.name.value
            result = _outcome(key, run.result.data, run.result.errors or [])
            targets = named + _ids_in((run.result.data or {}).get(key))
            where = {
                "target_ids": list(dict.fromkeys(targets)),
                "source_ip": source_address(request.scope),
                "request_id": context.request_id,
            }
            operation = f"graphql.{node.name.value}"
            principal = context.principal
            context.services.audit.record(
                AuditEntry.by(principal, operation, result, **where)
                if principal is not None
                else AuditEntry(operation=operation, result=result, actor_role="anonymous", **where)
            )


@strawberry.type(description="One audited action: who, what, on which ids, from where, result.")
class AuditEvent:
    id: strawberry.ID
    occurred_at: datetime
    actor_key_id: str | None
    actor_role: str = strawberry.field(description="client, operator, cli or anonymous.")
    client_id: str | None
    livemode: bool | None
    operation: str = strawberry.field(description="e.g. graphql.ingestProducts, auth.failed.")
    target_ids: list[str]
    source_ip: str | None
    result: str = strawberry.field(description="ok, or the error code the caller got.")
    request_id: str | None

    @classmethod
    def from_row(cls, row: AuditEventRow) -> "AuditEvent":
        return cls(
            id=strawberry.ID(row.id),
            occurred_at=row.occurred_at,
            actor_key_id=row.actor_key_id,
            actor_role=row.actor_role,
            client_id=row.client_id,
            livemode=row.livemode,
            operation=row.operation,
            target_ids=list(row.target_ids),
            source_ip=row.source_ip,
            result=row.result,
            request_id=row.request_id,
        )


@strawberry.type
class AuditEventConnection:
    nodes: list[AuditEvent]
    page_info: PageInfo


@strawberry.input
class AuditEventFilter:
    client_id: str | None = None
    actor_key_id: str | None = None
    operation: str | None = None
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@strawberry.type
class AuditQuery:
    @strawberry.field(
        permission_classes=[allowed(policy.READ_AUDIT)],
        description="Operators: the audit log, newest first.",
    )
    async def audit_events(
        self,
        info: Info,
        filter: AuditEventFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AuditEventConnection:
        where = AuditFilter(**vars(filter)) if filter else AuditFilter()
        async with reading(info.context.services.sessions) as session:
            page = await audit.list_events(session, where, first, after)
        return AuditEventConnection(
            nodes=[AuditEvent.from_row(row) for row in page.items], page_info=PageInfo.of(page)
        )
