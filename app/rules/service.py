"""Setting and reading a client's validation rules; the compiled rule set a job checks with."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.errors import FieldError, GatewayError
from app.ids import new_id
from app.rules.engine import RuleDefinitionError, RuleSet, compile_rule
from app.rules.loader import default_rules
from app.rules.models import ValidationRuleSet
from app.rules.spec import RuleList, error_details
from app.tenancy.models import Tenant

MAX_COMPILED = 1024
_compiled: dict[tuple[str, bool, Entity, int], RuleSet] = {}


@dataclass(frozen=True)
class RuleSetView:
    """What a client sees: its own rules (and their version) next to the built-in ones."""

    entity: Entity
    version: int
    rules: list[dict[str, Any]]
    defaults: list[dict[str, Any]]
    updated_at: datetime | None


def _default_specs(entity: Entity) -> list[dict[str, Any]]:
    rules = default_rules()[entity].spec.rules
    return [rule.model_dump(mode="json", by_alias=True, exclude_none=True) for rule in rules]


def _problems(error: ValidationError) -> list[FieldError]:
    return [FieldError("invalid_rule", message, loc) for loc, message in error_details(error)]


def check_rules(entity: Entity, rules: list[Any]) -> RuleList:
    """The rules parsed and compiled, or one error listing every problem with its path."""
    try:
        parsed = RuleList.model_validate({"rules": rules})
    except ValidationError as error:
        problems = _problems(error)
        raise GatewayError("invalid_rules", problems[0].message, errors=problems) from None
    defaults = default_rules()[entity]
    problems = []
    for index, rule in enumerate(parsed.rules):
        if rule.id in defaults.ids:
            message = f"rule id {rule.id!r} is a built-in rule's id; choose another"
            problems.append(FieldError("invalid_rule", message, ("rules", index, "id")))
            continue
        try:
            compile_rule(rule, entity, defaults.personal)
        except RuleDefinitionError as error:
            problems.append(FieldError("invalid_rule", str(error), ("rules", index)))
    if problems:
        raise GatewayError("invalid_rules", problems[0].message, errors=problems)
    return parsed


async def _latest_version(session: AsyncSession, tenant: Tenant, entity: Entity) -> int | None:
    table = ValidationRuleSet
    version: int | None = await session.scalar(
        select(func.max(table.version)).where(
            table.client_id == tenant.client_id,
            table.livemode == tenant.livemode,
            table.entity == entity.value,
        )
    )
    return version


async def _current_row(
    session: AsyncSession, tenant: Tenant, entity: Entity
) -> ValidationRuleSet | None:
    table = ValidationRuleSet
    row: ValidationRuleSet | None = await session.scalar(
        select(table)
        .where(
            table.client_id == tenant.client_id,
            table.livemode == tenant.livemode,
            table.entity == entity.value,
        )
        .order_by(table.version.desc())
        .limit(1)
    )
    return row


async def set_rules(
    session: AsyncSession, tenant: Tenant, entity: Entity, rules: list[Any], key_id: str | None
) -> RuleSetView:
    """Store the client's rules for an entity as a new version (replacing the whole list)."""
    parsed = check_rules(entity, rules)
    stored = [
        rule.model_dump(mode="json", by_alias=True, exclude_none=True) for rule in parsed.rules
    ]
    latest = await _latest_version(session, tenant, entity)
    row = ValidationRuleSet(
        id=new_id("vrs"),
        client_id=tenant.client_id,
        livemode=tenant.livemode,
        entity=entity.value,
        version=(latest or 0) + 1,
        rules=stored,
        created_at=datetime.now(UTC),
        created_by=key_id,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise GatewayError(
            "concurrent_update", "The rules changed at the same time; read them and try again."
        ) from None
    return RuleSetView(entity, row.version, stored, _default_specs(entity), row.created_at)


async def rule_sets(session: AsyncSession, tenant: Tenant) -> list[RuleSetView]:
    views = []
    for entity in Entity:
        row = await _current_row(session, tenant, entity)
        views.append(
            RuleSetView(
                entity,
                row.version if row else 0,
                list(row.rules) if row else [],
                _default_specs(entity),
                row.created_at if row else None,
            )
        )
    return views


def compiled(tenant: Tenant, entity: Entity, version: int, rules: list[Any]) -> RuleSet:
    """The built-in checks then the client's, compiled once per (tenant, entity, version)."""
    key = (tenant.client_id, tenant.livemode, entity, version)
    found = _compiled.get(key)
    if found is not None:
        return found
    defaults = default_rules()[entity]
    custom = RuleList.model_validate({"rules": rules}).rules if rules else []
    checks = defaults.checks + tuple(
        compile_rule(rule, entity, defaults.personal) for rule in custom
    )
    if len(_compiled) >= MAX_COMPILED:
        _compiled.clear()
    _compiled[key] = rule_set = RuleSet(entity, version, checks)
    return rule_set


def default_rule_set(entity: Entity) -> RuleSet:
    defaults = default_rules()[entity]
    return RuleSet(entity, 0, defaults.checks)


async def current_rule_set(session: AsyncSession, tenant: Tenant, entity: Entity) -> RuleSet:
    """What the tenant's records of this entity are checked with now."""
    version = await _latest_version(session, tenant, entity)
    if version is None:
        return default_rule_set(entity)
    cached = _compiled.get((tenant.client_id, tenant.livemode, entity, version))
    if cached is not None:
        return cached
    row = await _current_row(session, tenant, entity)
    assert row is not None
    return compiled(tenant, entity, row.version, row.rules)
