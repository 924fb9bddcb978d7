"""Each client's conflict policy per entity: how records of different platforms are linked into one
(the identity key) and which platform owns which field of the linked record.

Without a policy of its own a client gets the defaults: products linked by `sku`, audience by
`email`, no field owners (the newest source wins each field). Each setConflictPolicy stores a new
version; the newest applies to records stored and read from then on. A version that changes the
identity key re-links the records already stored (their identity rows are rebuilt under the new
key in the same transaction, app.records.identity), and says how many it re-linked.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.contracts.entities import ENTITY_MODELS, Entity
from app.contracts.fields import SourcePlatform
from app.db.models import Base, UtcDateTime
from app.errors import FieldError, GatewayError
from app.ids import new_id
from app.records.identity import IDENTITY_KEYS, is_key_of, rebuild_identities
from app.tenancy.models import Tenant

DEFAULT_IDENTITY: dict[Entity, str | None] = {Entity.PRODUCT: "sku", Entity.AUDIENCE: "email"}
NOT_OWNED = frozenset({"external_id", "source_platform", "source_updated_at", "attributes"})
ERROR_CODE = "invalid_policy"


class ConflictPolicy(Base):
    __tablename__ = "conflict_policies"
    __table_args__ = (
        UniqueConstraint(
            "client_id", "livemode", "entity", "version", name="uq_conflict_policies_version"
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    entity: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    identity: Mapped[str | None] = mapped_column(String(80), nullable=True)
    owners: Mapped[dict[str, str]] = mapped_column(JSON, doc="standard field → owning platform")
    relinked: Mapped[int | None] = mapped_column(
        Integer, nullable=True, doc="records re-linked under a changed identity key"
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(String(40), nullable=True)


@dataclass(frozen=True)
class Policy:
    entity: Entity
    version: int  # 0: the defaults
    identity: str | None
    owners: dict[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None
    relinked: int | None = None  # set when this version changed the identity key


def default_policy(entity: Entity) -> Policy:
    return Policy(entity, 0, DEFAULT_IDENTITY.get(entity))


def _owner_problem(entity: Entity, name: str) -> str | None:
    fields = ENTITY_MODELS[entity].model_fields
    head, _, key = name.partition(".")
    if head == "attributes" and key and "." not in key:
        return None
    if key or head not in fields or head in NOT_OWNED:
        ownable = ", ".join(f for f in fields if f not in NOT_OWNED)
        return f"{name!r} cannot be owned: a {entity.value} field ({ownable}) or attributes.<key>"
    return None


def check_policy(entity: Entity, identity: str | None, owners: list[tuple[str, str]]) -> None:
    problems = []
    if identity is not None and not is_key_of(entity, identity):
        allowed = ", ".join((*IDENTITY_KEYS[entity], "attributes.<name>"))
        message = (
            f"{entity.value} records can be linked by: {allowed} (a name of 1 to 64 letters, "
            "digits, _ or -), or null: not linked"
        )
        problems.append(FieldError(ERROR_CODE, message, ("identity",)))
    seen = set()
    for index, (name, platform) in enumerate(owners):
        problem = _owner_problem(entity, name)
        if problem is None and name in seen:
            problem = f"{name!r} has two owners"
        if problem:
            problems.append(FieldError(ERROR_CODE, problem, ("owners", index, "field")))
        seen.add(name)
        if platform not in {p.value for p in SourcePlatform}:
            message = f"unknown platform {platform!r}"
            problems.append(FieldError(ERROR_CODE, message, ("owners", index, "platform")))
    if problems:
        raise GatewayError(ERROR_CODE, problems[0].message, errors=problems)


def _scope(tenant: Tenant, entity: Entity) -> list[Any]:
    table = ConflictPolicy
    return [
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.entity == entity.value,
    ]


async def current_policy(session: AsyncSession, tenant: Tenant, entity: Entity) -> Policy:
    row = await session.scalar(
        select(ConflictPolicy)
        .where(*_scope(tenant, entity))
        .order_by(ConflictPolicy.version.desc())
        .limit(1)
    )
    if row is None:
        return default_policy(entity)
    return Policy(entity, row.version, row.identity, dict(row.owners), row.created_at, row.relinked)


async def set_policy(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    identity: str | None,
    owners: list[tuple[str, str]],
    key_id: str | None,
) -> Policy:
    check_policy(entity, identity, owners)
    latest = await current_policy(session, tenant, entity)
    relinked = None
    if identity != latest.identity:
        relinked = await rebuild_identities(session, tenant, entity, identity)
    row = ConflictPolicy(
        id=new_id("cfp"),
        client_id=tenant.client_id,
        livemode=tenant.livemode,
        entity=entity.value,
        version=latest.version + 1,
        identity=identity,
        owners=dict(owners),
        created_at=datetime.now(UTC),
        created_by=key_id,
        relinked=relinked,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise GatewayError(
            "concurrent_update", "The policy changed at the same time; read it and try again."
        ) from None
    return Policy(entity, row.version, identity, dict(owners), row.created_at, relinked)


async def all_policies(session: AsyncSession, tenant: Tenant) -> list[Policy]:
    return [await current_policy(session, tenant, entity) for entity in Entity]
