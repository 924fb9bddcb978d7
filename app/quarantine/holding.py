"""What a job does with the records that fail: hold each as a quarantined record (a replayed
one is updated in place), and release the replayed ones that now pass."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import exact_json
from app.errors import FieldError
from app.ids import new_id
from app.quarantine.models import QuarantinedRecord, QuarantineStatus
from app.quarantine.patch import apply_patches
from app.tenancy.models import Tenant

REPLAYABLE = (QuarantineStatus.OPEN.value, QuarantineStatus.EXHAUSTED.value)


def error_entries(errors: list[FieldError]) -> list[dict[str, Any]]:
    """Errors as a quarantined record keeps them (rule id and offending value for rule
    failures; values of personal fields are already masked by the rule engine)."""
    return [
        {
            "code": error.code,
            "message": error.message,
            "path": error.dotted_path,
            "rule_id": getattr(error, "rule_id", None),
            "value": getattr(error, "value", None),
        }
        for error in errors
    ]


def rule_ids_of(errors: list[FieldError]) -> str:
    """For filtering by rule id with LIKE '% id %' (ids hold no spaces)."""
    ids = sorted({rule_id for error in errors if (rule_id := getattr(error, "rule_id", None))})
    return f" {' '.join(ids)} " if ids else ""


def patched_attempt(
    payload: str | bytes, mapping_errors: list[FieldError], patches: tuple[Any, ...]
) -> tuple[str | bytes, list[FieldError]]:
    """A fixed record is re-mapped, then its fixes are applied again; a fix is a person's
    correction, so it stands in for what mapping could not produce."""
    if not patches:
        return payload, mapping_errors
    try:
        attempt = exact_json.loads(payload)
    except orjson.JSONDecodeError:
        attempt = None
    return exact_json.dumps(apply_patches(attempt, list(patches))), []


def _loaded(payload: str | bytes) -> Any:
    try:
        return exact_json.loads(payload)
    except orjson.JSONDecodeError:
        return None


def _platform_of(attempt: Any) -> str | None:
    platform = attempt.get("source_platform") if isinstance(attempt, dict) else None
    return platform if isinstance(platform, str) else None


@dataclass
class QuarantineBatch:
    """One chunk's quarantine changes, written in the chunk's transaction."""

    new: list[dict[str, Any]] = field(default_factory=list)
    again: list[dict[str, Any]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def hold(
        self,
        *,
        job_id: str,
        tenant: Tenant,
        entity: str,
        raw_platform: str | None,
        position: int,
        quarantine_id: str | None,
        attempt: str | bytes,
        mapped: bool,
        external_id: str | None,
        errors: list[FieldError],
    ) -> None:
        """`attempt` is the standard-shaped record that failed; kept when it differs from the
        raw input (mapped from a platform's shape, or fixed)."""
        now = datetime.now(UTC)
        loaded = _loaded(attempt)
        values = {
            "mapped": loaded if mapped else None,
            "errors": error_entries(errors),
            "rule_ids": rule_ids_of(errors),
            "external_id": external_id,
            "updated_at": now,
        }
        if quarantine_id is not None:
            self.again.append(values | {"entry_id": quarantine_id, "replay_job_id": job_id})
            return
        self.new.append(
            values
            | {
                "id": new_id("qr"),
                "client_id": tenant.client_id,
                "livemode": tenant.livemode,
                "job_id": job_id,
                "position": position,
                "entity": entity,
                "source_platform": raw_platform or _platform_of(loaded),
                "raw_platform": raw_platform,
                "status": QuarantineStatus.OPEN.value,
                "patches": None,
                "attempts": 1,
                "created_at": now,
            }
        )

    def release(self, quarantine_id: str) -> None:
        self.released.append(quarantine_id)

    async def store(self, session: AsyncSession, tenant: Tenant, job_id: str) -> None:
        if self.new:
            await session.execute(insert(QuarantinedRecord), self.new)
        core = cast(Table, QuarantinedRecord.__table__)
        table = core.c
        if self.again:
            await session.execute(
                update(core)
                .where(table.id == bindparam("entry_id"), table.status.in_(REPLAYABLE))
                .values(
                    mapped=bindparam("mapped"),
                    errors=bindparam("errors"),
                    rule_ids=bindparam("rule_ids"),
                    external_id=bindparam("external_id"),
                    updated_at=bindparam("updated_at"),
                    replay_job_id=bindparam("replay_job_id"),
                    attempts=table.attempts + 1,
                ),
                self.again,
            )
        if self.released:
            now = datetime.now(UTC)
            await session.execute(
                update(core)
                .where(
                    table.id.in_(self.released),
                    table.client_id == tenant.client_id,
                    table.livemode == tenant.livemode,
                    table.status.in_(REPLAYABLE),
                )
                .values(
                    status=QuarantineStatus.RESOLVED.value,
                    errors=[],
                    rule_ids="",
                    resolved_at=now,
                    updated_at=now,
                    replay_job_id=job_id,
                    attempts=table.attempts + 1,
                )
            )


async def replay_patches(
    session: AsyncSession, tenant: Tenant, quarantine_ids: list[str]
) -> dict[str, tuple[Any, ...]]:
    """The fixes of the replayed records among a chunk's staged records."""
    if not quarantine_ids:
        return {}
    table = QuarantinedRecord
    rows = await session.execute(
        select(table.id, table.patches).where(
            table.id.in_(quarantine_ids),
            table.patches.is_not(None),
            table.client_id == tenant.client_id,
            table.livemode == tenant.livemode,
        )
    )
    return {row.id: tuple(row.patches or ()) for row in rows if row.patches}
