"""Storing valid records: the one path every accepted record takes to the canonical store, from an
ingest job's chunk or from a fixed quarantined record alike.

In order: the stored states are read; conflicts are settled and recorded (stale, duplicates in
the batch, email consent, identity links and duplicates, app.records.conflicts); each record's
outcome is decided; the records that change the store are upserted (an older source_updated_at
never overwrites a newer one, even under races); their identity rows follow their new values.
WooCommerce variations read on their own are not whole records: they update their parent's
variants, or wait for it, and a parent stored whole keeps them (app.records.variations).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.errors import FieldError
from app.records.conflicts import Superseded, job_policy, settle
from app.records.identity import keep_identities
from app.records.policies import Policy, current_policy
from app.records.service import Outcome, RecordKey, decide, load_states, upsert
from app.records.validation import ValidRecord
from app.records.variations import (
    apply_variations,
    lock_parents,
    split_variations,
    with_held_variations,
)
from app.tenancy.models import Tenant


@dataclass(frozen=True)
class Stored:
    outcomes: dict[RecordKey, Outcome]  # each record's outcome, as a job counts it
    written: list[ValidRecord]  # the records the store took (new content or a newer time)
    # (a variation the store took changed its parent: it is among them, though not a record)
    refused: dict[RecordKey, list[FieldError]] = field(default_factory=dict)
    # (variations refused once their parent was read: too many variants; to quarantine)


async def store_records(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    job_id: str,
    records: dict[RecordKey, ValidRecord],
    superseded: Sequence[Superseded] = (),
    policy: Policy | None = None,
) -> Stored:
    """Settle, decide and store valid records (one per key). `policy`: the conflict policy to
    apply (default: the one the job read at its first chunk for links, the current one for
    identity rows)."""
    if not records:
        return Stored({}, [])
    given = policy is not None
    policy = policy or await job_policy(session, tenant, entity, job_id)
    whole, variations = split_variations(entity, records)
    await lock_parents(session, tenant, entity, whole, variations)
    whole, held = await with_held_variations(session, tenant, entity, whole)
    states = await load_states(session, tenant, entity, set(whole))
    whole = await settle(session, tenant, entity, job_id, whole, states, superseded, policy)
    outcomes, written = {}, []
    for key, record in whole.items():
        stored = states.get(key)
        outcomes[key] = outcome = decide(record, stored, job_id)
        newer = stored is not None and record.source_updated_at > stored.source_updated_at
        if outcome is Outcome.WRITTEN or (outcome is Outcome.UNCHANGED and newer):
            written.append(record)
    await upsert(session, tenant, entity, job_id, written)
    await held.taken(session, tenant, job_id, written)
    # The key now, not the job's: a key changed while the job runs must not be undone by it.
    current = policy if given else await current_policy(session, tenant, entity)
    await keep_identities(session, tenant, entity, current.identity, written)
    applied = await apply_variations(session, tenant, job_id, variations)
    return Stored(outcomes | applied.outcomes, written + applied.written, applied.refused)
