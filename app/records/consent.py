"""Email consent across platforms (audience records).

Consent: email consent belongs to the person (the email), not to one platform's copy.
An `unsubscribed` wins over any `subscribed` / `pending` / `unknown` (or silent) value that is not
newer than it, whichever platform said which and whatever else the records say: a consent value's
time is its `consent_updated_at`, else the record's `source_updated_at`; equal times go to the
unsubscribe. So, for the records of one chunk, before they are stored:
- an incoming record whose consent is older than an unsubscribe known for its email (stored under
  any platform, or in the same chunk) is stored as unsubscribed (`consent_kept`);
- an incoming unsubscribe is applied to the stored records of the same email that are not written
  by this chunk — other platforms' copies, and its own row when the record itself is stale
  (`consent_propagated`), so the AMS sync sends it with the unsubscribes it writes first.
A re-subscription newer than the unsubscribe wins like any newer value.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.db.models import CanonicalRecord
from app.privacy.lookup_sql import CANONICAL_EMAIL
from app.records.resolutions import Resolution, ResolutionKind, named, record_resolutions
from app.records.service import RecordKey
from app.records.validation import ValidRecord, content_hash
from app.tenancy.models import Tenant

UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True)
class ConsentFact:
    """One record's email consent and when it was given."""

    key: RecordKey
    state: str | None
    at: datetime
    at_text: str  # as stored (RFC 3339, Z)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def consent_of(key: RecordKey, data: dict[str, Any]) -> ConsentFact:
    text = data.get("consent_updated_at") or data["source_updated_at"]
    return ConsentFact(key, data.get("email_consent"), _parse(text), text)


def unsubscribe_wins(unsubscribe: ConsentFact, other: ConsentFact) -> bool:
    """Whether the unsubscribe replaces the other value (silence, or a value not newer)."""
    if other.state == UNSUBSCRIBED:
        return False
    return other.state is None or unsubscribe.at >= other.at


def with_consent(data: dict[str, Any], unsubscribe: ConsentFact) -> dict[str, Any]:
    return {**data, "email_consent": UNSUBSCRIBED, "consent_updated_at": unsubscribe.at_text}


def _origin(fact: ConsentFact, kept: ConsentFact) -> dict[str, Any]:
    return {
        "winner": named(fact.key),
        "value": UNSUBSCRIBED,
        "consent_updated_at": fact.at_text,
        "replaced": kept.state,
        "rule": "unsubscribed wins over consent that is not newer",
    }


@dataclass
class StoredConsent:
    id: str
    key: RecordKey
    email: str
    fact: ConsentFact


async def _stored_by_email(
    session: AsyncSession, tenant: Tenant, emails: set[str]
) -> list[StoredConsent]:
    """Stored audience records with these emails (answered from the email expression index)."""
    table = CanonicalRecord
    email: Any = literal_column(CANONICAL_EMAIL[session.get_bind().dialect.name])
    rows = await session.execute(
        select(
            table.id,
            table.source_platform,
            table.external_id,
            email.label("email"),
            table.data["email_consent"].as_string().label("consent"),
            table.data["consent_updated_at"].as_string().label("consent_at"),
            table.data["source_updated_at"].as_string().label("updated_at"),
        ).where(
            table.client_id == tenant.client_id,
            table.livemode == tenant.livemode,
            table.entity == Entity.AUDIENCE.value,
            email.in_(sorted(emails)),
        )
    )
    found = []
    for row in rows:
        key = (row.source_platform, row.external_id)
        text = row.consent_at or row.updated_at
        fact = ConsentFact(key, row.consent, _parse(text), text)
        found.append(StoredConsent(row.id, key, row.email, fact))
    return found


def _newest_unsubscribes(facts: Iterable[tuple[str, ConsentFact]]) -> dict[str, ConsentFact]:
    newest: dict[str, ConsentFact] = {}
    for email, fact in facts:
        if fact.state == UNSUBSCRIBED and (email not in newest or fact.at > newest[email].at):
            newest[email] = fact
    return newest


@dataclass
class ConsentSettlement:
    records: dict[RecordKey, ValidRecord]
    resolutions: list[Resolution]
    propagate: dict[
        str, tuple[StoredConsent, ConsentFact]
    ]  # stored record id → (it, the unsubscribe)


def settle_consent(
    records: dict[RecordKey, ValidRecord], stored: list[StoredConsent], written: set[RecordKey]
) -> ConsentSettlement:
    """Pure part: the chunk's records with consent settled, and the stored records an incoming
    unsubscribe must be applied to. `written`: keys this chunk will store (not stale)."""
    incoming = {key: consent_of(key, record.data) for key, record in records.items()}
    emails = {key: record.data.get("email") for key, record in records.items()}
    unsubscribes = _newest_unsubscribes(
        [(row.email, row.fact) for row in stored]
        + [(email, incoming[key]) for key, email in emails.items() if email]
    )
    settled, resolutions = dict(records), []
    for key, record in records.items():
        unsubscribe = unsubscribes.get(emails[key] or "")
        if unsubscribe is None or not unsubscribe_wins(unsubscribe, incoming[key]):
            continue
        data = with_consent(record.data, unsubscribe)
        settled[key] = replace(record, data=data, content_hash=content_hash(data))
        detail = _origin(unsubscribe, incoming[key])
        resolutions.append(Resolution(key, ResolutionKind.CONSENT_KEPT, "email_consent", detail))
    propagate: dict[str, tuple[StoredConsent, ConsentFact]] = {}
    for row in stored:
        unsubscribe = unsubscribes.get(row.email)
        if row.key in written or unsubscribe is None or unsubscribe.key not in records:
            continue
        if unsubscribe_wins(unsubscribe, row.fact):
            propagate[row.id] = (row, unsubscribe)
    return ConsentSettlement(settled, resolutions, propagate)


async def _propagate(
    session: AsyncSession, job_id: str, targets: dict[str, tuple[StoredConsent, ConsentFact]]
) -> list[Resolution]:
    """Apply the unsubscribes to stored records; one whose content changed meanwhile is left
    (the next record for it is settled again)."""
    if not targets:
        return []
    table = CanonicalRecord
    rows = await session.execute(
        select(table.id, table.data, table.content_hash).where(table.id.in_(sorted(targets)))
    )
    now, resolutions = datetime.now(UTC), []
    for row in rows:
        stored, unsubscribe = targets[row.id]
        data = with_consent(dict(row.data), unsubscribe)
        changed = await session.execute(
            update(table)
            .where(table.id == row.id, table.content_hash == row.content_hash)
            .values(
                data=data,
                content_hash=content_hash(data),
                version=table.version + 1,
                last_job_id=job_id,
                updated_at=now,
                sync_pending=True,  # new content for the AMS
            )
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            detail = _origin(unsubscribe, stored.fact)
            kind = ResolutionKind.CONSENT_PROPAGATED
            resolutions.append(Resolution(stored.key, kind, "email_consent", detail))
    return resolutions


async def settle_audience_consent(
    session: AsyncSession,
    tenant: Tenant,
    job_id: str,
    records: dict[RecordKey, ValidRecord],
    written: set[RecordKey],
) -> dict[RecordKey, ValidRecord]:
    """The chunk's audience records with consent settled against everything stored for their
    emails; unsubscribes applied to the other stored records; the resolutions recorded."""
    emails = {str(r.data["email"]) for r in records.values() if r.data.get("email")}
    if not emails:
        return records
    stored = await _stored_by_email(session, tenant, emails)
    settlement = settle_consent(records, stored, written)
    resolutions = settlement.resolutions + await _propagate(session, job_id, settlement.propagate)
    await record_resolutions(session, tenant, Entity.AUDIENCE, job_id, resolutions)
    return settlement.records
