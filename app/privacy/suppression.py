"""Suppression (opt-in per client): an erased person's later pushes are held back instead of
being accepted as new data. Only salted hashes are kept (app.privacy.identifiers); a pushed
audience record is suppressed when the hash of its email, phone or (platform, external id)
matches one, and is then quarantined with the code `subject_suppressed` (visible to the client
with its job; a replay is checked again, so it passes only once the suppression is lifted)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.errors import FieldError
from app.privacy.identifiers import IdentifierKind, identifier_hash
from app.privacy.models import PrivacySettings, SuppressedSubject
from app.settings import Settings
from app.tenancy.models import Tenant

SUPPRESSED_CODE = "subject_suppressed"
SUPPRESSED_MESSAGE = (
    "This person was erased at the client's request and the client suppresses erased people: "
    "the record is held back. Lift the suppression (setPrivacySettings) to accept it."
)


async def suppresses_erased(session: AsyncSession, tenant: Tenant) -> bool:
    found = await session.get(PrivacySettings, (tenant.client_id, tenant.livemode))
    return bool(found and found.suppress_erased)


async def set_suppression(session: AsyncSession, tenant: Tenant, enabled: bool) -> bool:
    """Turning it off also forgets every hash kept so far (nothing is held back any more)."""
    table = cast(Table, PrivacySettings.__table__)
    dialect = session.get_bind().dialect.name
    values = {
        "client_id": tenant.client_id,
        "livemode": tenant.livemode,
        "suppress_erased": enabled,
        "updated_at": datetime.now(UTC),
    }
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    await session.execute(
        insert.values(values).on_conflict_do_update(
            index_elements=["client_id", "livemode"],
            set_={"suppress_erased": enabled, "updated_at": values["updated_at"]},
        )
    )
    if not enabled:
        await session.execute(
            delete(SuppressedSubject).where(
                SuppressedSubject.client_id == tenant.client_id,
                SuppressedSubject.livemode == tenant.livemode,
            )
        )
    return enabled


async def remember_erased(
    session: AsyncSession, tenant: Tenant, run_id: str, hashes: Iterable[str]
) -> None:
    table = cast(Table, SuppressedSubject.__table__)
    dialect = session.get_bind().dialect.name
    rows = [
        {
            "client_id": tenant.client_id,
            "livemode": tenant.livemode,
            "subject_hash": hashed,
            "run_id": run_id,
            "created_at": datetime.now(UTC),
        }
        for hashed in hashes
    ]
    if rows:
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        await session.execute(insert.on_conflict_do_nothing(), rows)


def record_hashes(
    settings: Settings, tenant: Tenant, data: dict[str, Any], platform: str, external_id: str
) -> set[str]:
    """The hashes a valid (normalised) audience record is suppressed by."""
    hashes = set()
    for kind in (IdentifierKind.EMAIL, IdentifierKind.PHONE):
        value = data.get(kind.value)
        if isinstance(value, str):
            hashes.add(identifier_hash(settings, tenant, kind, value, None))
    for named in (platform, None):
        hashes.add(
            identifier_hash(settings, tenant, IdentifierKind.EXTERNAL_ID, external_id, named)
        )
    return hashes


@dataclass(frozen=True)
class Suppression:
    """One job's view of its tenant's suppression list (loaded when the job is claimed)."""

    settings: Settings
    tenant: Tenant
    hashes: frozenset[str]

    def errors(self, data: dict[str, Any], platform: str, external_id: str) -> list[FieldError]:
        if record_hashes(self.settings, self.tenant, data, platform, external_id) & self.hashes:
            return [FieldError(SUPPRESSED_CODE, SUPPRESSED_MESSAGE, ())]
        return []


async def load_suppression(
    session: AsyncSession, tenant: Tenant, entity: Entity, settings: Settings
) -> Suppression | None:
    """None unless an audience job's client suppresses erased people and has some."""
    if entity is not Entity.AUDIENCE or not await suppresses_erased(session, tenant):
        return None
    found = await session.scalars(
        select(SuppressedSubject.subject_hash).where(
            SuppressedSubject.client_id == tenant.client_id,
            SuppressedSubject.livemode == tenant.livemode,
        )
    )
    hashes = frozenset(found.all())
    return Suppression(settings, tenant, hashes) if hashes else None


async def suppressed(session: AsyncSession, tenant: Tenant, hashes: Iterable[str]) -> set[str]:
    """Which of the hashes are on the tenant's suppression list (one indexed query)."""
    wanted = sorted(set(hashes))
    if not wanted:
        return set()
    found = await session.scalars(
        select(SuppressedSubject.subject_hash).where(
            SuppressedSubject.client_id == tenant.client_id,
            SuppressedSubject.livemode == tenant.livemode,
            SuppressedSubject.subject_hash.in_(wanted),
        )
    )
    return set(found.all())


async def held_back(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    settings: Settings,
    data: dict[str, Any],
    platform: str,
    external_id: str,
) -> list[FieldError]:
    """One valid record checked against the suppression list (a fix of a quarantined record):
    the error it is held back with, or none."""
    if entity is not Entity.AUDIENCE or not await suppresses_erased(session, tenant):
        return []
    if await suppressed(
        session, tenant, record_hashes(settings, tenant, data, platform, external_id)
    ):
        return [FieldError(SUPPRESSED_CODE, SUPPRESSED_MESSAGE, ())]
    return []
