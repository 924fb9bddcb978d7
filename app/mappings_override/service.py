"""Setting and reading a client's field-mapping overrides; the rules a raw job maps with.

Each setFieldMapping stores the complete override list for one platform and entity as a new
version. A job maps all its records with one version: the newest when the job is first claimed,
recorded on the job (`mapping_version`; 0 = the platform's rule file alone) and used again when a
worker resumes it. The laid-over rules are built once per version and process, then reused.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.errors import FieldError, GatewayError
from app.ids import new_id
from app.mappings_override.models import FieldMappingSet
from app.tenancy.models import Tenant
from app.transform.loader import mappings
from app.transform.overrides import check_overrides, with_overrides
from app.transform.rules import MappingRules

MAX_COMPILED = 512
CompiledKey = tuple[str, bool, SourcePlatform, Entity, int]
_compiled: dict[CompiledKey, MappingRules] = {}


@dataclass(frozen=True)
class FieldMappingView:
    platform: SourcePlatform
    entity: Entity
    version: int
    rules: list[dict[str, Any]]
    updated_at: datetime | None


def base_rules(platform: SourcePlatform, entity: Entity) -> MappingRules:
    found = mappings().get((platform, entity))
    if found is None:
        supported = ", ".join(sorted(f"{p.value} {e.value}" for p, e in mappings()))
        message = f"No mapping rules for {platform.value} {entity.value} (supported: {supported})."
        error = FieldError("unsupported_mapping", message, ("platform",))
        raise GatewayError("unsupported_mapping", message, errors=[error])
    return found


def _of_tenant(tenant: Tenant, platform: SourcePlatform, entity: Entity) -> list[Any]:
    table = FieldMappingSet
    return [
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.platform == platform.value,
        table.entity == entity.value,
    ]


async def _latest_version(
    session: AsyncSession, tenant: Tenant, platform: SourcePlatform, entity: Entity
) -> int:
    version: int | None = await session.scalar(
        select(func.max(FieldMappingSet.version)).where(*_of_tenant(tenant, platform, entity))
    )
    return version or 0


async def set_field_mapping(
    session: AsyncSession,
    tenant: Tenant,
    platform: SourcePlatform,
    entity: Entity,
    rules: list[Any],
    key_id: str | None,
) -> FieldMappingView:
    """Store the client's overrides for a platform and entity as a new version (the whole list;
    an empty list goes back to the platform's rule file)."""
    specs = check_overrides(base_rules(platform, entity), rules)
    stored = [spec.model_dump(mode="json", exclude_defaults=True) for spec in specs]
    row = FieldMappingSet(
        id=new_id("fms"),
        client_id=tenant.client_id,
        livemode=tenant.livemode,
        platform=platform.value,
        entity=entity.value,
        version=await _latest_version(session, tenant, platform, entity) + 1,
        rules=stored,
        created_at=datetime.now(UTC),
        created_by=key_id,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise GatewayError(
            "concurrent_update", "The mapping changed at the same time; read it and try again."
        ) from None
    return FieldMappingView(platform, entity, row.version, stored, row.created_at)


async def field_mappings(session: AsyncSession, tenant: Tenant) -> list[FieldMappingView]:
    """The current version of every platform and entity the client has set overrides for."""
    table = FieldMappingSet
    rows = await session.scalars(
        select(table)
        .where(table.client_id == tenant.client_id, table.livemode == tenant.livemode)
        .order_by(table.platform, table.entity, table.version.desc())
    )
    views: dict[tuple[str, str], FieldMappingView] = {}
    for row in rows:
        if (row.platform, row.entity) not in views:
            views[(row.platform, row.entity)] = FieldMappingView(
                SourcePlatform(row.platform),
                Entity(row.entity),
                row.version,
                list(row.rules),
                row.created_at,
            )
    return list(views.values())


async def _compile(
    session: AsyncSession, key: CompiledKey, base: MappingRules
) -> MappingRules | None:
    client_id, livemode, platform, entity, version = key
    tenant = Tenant(client_id, livemode)
    row = await session.scalar(
        select(FieldMappingSet).where(
            *_of_tenant(tenant, platform, entity), FieldMappingSet.version == version
        )
    )
    if row is None:
        return None
    if len(_compiled) >= MAX_COMPILED:
        _compiled.clear()
    _compiled[key] = rules = with_overrides(base, list(row.rules))
    return rules


async def mapping_for_job(
    session: AsyncSession,
    tenant: Tenant,
    platform: SourcePlatform,
    entity: Entity,
    pinned: int | None,
) -> tuple[MappingRules, int]:
    """The rules a raw job maps with and their version: `pinned` when the job already has one,
    else the newest."""
    base = base_rules(platform, entity)
    version = (
        pinned if pinned is not None else await _latest_version(session, tenant, platform, entity)
    )
    if version == 0:
        return base, 0
    key = (tenant.client_id, tenant.livemode, platform, entity, version)
    rules = _compiled.get(key) or await _compile(session, key, base)
    if rules is None:  # the pinned version is gone (never expected): map with the newest
        return await mapping_for_job(session, tenant, platform, entity, None)
    return rules, version
