"""Which records a sync pass looks at: the ones changed since the AMS last handled them, found
through their `sync_pending` marker, never the whole catalogue; and nothing changed is missed
(a write that commits late, a reconciliation repair, a field map change, a replay).

The passes run here directly (the gateway's own sweeper is slowed down so it never runs them);
database work is counted (statements, SQLite VM instructions, PostgreSQL rows read), not timed."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text, update

from app.ams import identity_rows
from app.ams.archival import archive_records
from app.ams.due import mark_sync_due
from app.ams.fieldmap import table_maps, value_hash
from app.ams.models import AmsSyncRecord, AmsSyncState, ArchivedRecord, RecordSyncStatus
from app.ams.rejections import send_again
from app.ams.service import AmsRuntime, SyncRun, run_sync, unchanged_count
from app.contracts.entities import Entity
from app.db.engine import create_session_factory
from app.db.models import CanonicalRecord
from app.ids import new_id
from app.reconciliation.compare import Finding
from app.reconciliation.models import MismatchKind
from app.reconciliation.repair import requeue
from app.records.identity import keep_identities
from app.records.policies import current_policy
from app.records.service import upsert
from app.records.validation import ValidRecord, validate_record
from app.services import Services
from app.settings import Settings
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import create_tenant
from tests.db_work import VM_STEPS_PER_CALL, Work, named_engine, pg_rows_read
from tests.helpers import Gateway, seed_synced, served_gateway, shopify_product
from tests.integration.test_ams_sync import ams_settings

TABLES = ("canonical_records", "ams_sync_records")


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(fast_sandbox_settings, sweeper_interval_seconds=3600.0)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


@dataclass
class Measured:
    run: SyncRun | None
    statements: int
    vm_steps: int  # SQLite
    rows_read: dict[str, int]  # PostgreSQL, per table
    tenant: TenantScope


@asynccontextmanager
async def runtime_named(settings: Settings, name: str) -> AsyncIterator[tuple[AmsRuntime, Work]]:
    """A sync runtime on an engine of its own, its work counted; closed (and so its PostgreSQL
    counters flushed) on exit."""
    engine = named_engine(settings.database_url, name)
    work = Work(engine)
    runtime = AmsRuntime.create(settings, create_session_factory(engine))
    try:
        yield runtime, work
    finally:
        await runtime.close()
        await engine.dispose()


def product(n: int, **changes: Any) -> ValidRecord:
    found = validate_record(Entity.PRODUCT, orjson.dumps(shopify_product(n, **changes)))
    assert isinstance(found, ValidRecord)
    return found


def renamed(n: int, name: str) -> ValidRecord:
    return product(n, updated_at="2026-11-03T10:00:00Z", name=name)


def external_id(n: int) -> str:
    return str(shopify_product(n)["external_id"])


async def store(runtime: AmsRuntime, tenant: TenantScope, records: list[ValidRecord]) -> None:
    async with runtime.sessions() as session, session.begin():
        await upsert(session, tenant, Entity.PRODUCT, new_id("job"), records)
        await mark_sync_due(session, tenant, Entity.PRODUCT)


async def pending(services: Services, tenant: TenantScope) -> set[str]:
    async with services.sessions() as session:
        found = await session.scalars(
            select(CanonicalRecord.external_id).where(
                CanonicalRecord.client_id == tenant.client_id,
                CanonicalRecord.livemode == tenant.livemode,
                CanonicalRecord.sync_pending,
            )
        )
        return set(found)


async def measured_pass(settings: Settings, tenant: TenantScope, name: str) -> Measured:
    postgres = settings.database_url.startswith("postgresql")
    before = await pg_rows_read(settings.database_url, TABLES, name) if postgres else {}
    async with runtime_named(settings, name) as (runtime, work):
        run = await run_sync(runtime, tenant, Entity.PRODUCT)
    after = await pg_rows_read(settings.database_url, TABLES, name) if postgres else {}
    rows = {table: after[table] - before.get(table, 0) for table in after}
    return Measured(run, work.statements, work.vm_steps, rows, tenant)


ARCHIVED = 5  # archived records in every catalogue measured, their rows showing it


async def seed_archived(runtime: AmsRuntime, tenant: TenantScope, numbers: range) -> None:
    """Records archived, their rows showing the archival as a finished sync leaves them."""
    keys = [("shopify", external_id(n)) for n in numbers]
    async with runtime.sessions() as session, session.begin():
        assert (await archive_records(session, tenant, Entity.PRODUCT, keys)).archived == len(keys)
        archivals = await session.execute(
            select(ArchivedRecord.external_id, ArchivedRecord.archived_at).where(
                ArchivedRecord.client_id == tenant.client_id,
                ArchivedRecord.livemode == tenant.livemode,
            )
        )
        for archived_id, archived_at in archivals.tuples():
            await session.execute(
                update(AmsSyncRecord)
                .where(
                    AmsSyncRecord.client_id == tenant.client_id,
                    AmsSyncRecord.livemode == tenant.livemode,
                    AmsSyncRecord.external_id == archived_id,
                )
                .values(archived_at=archived_at)
            )


async def one_change_pass(
    gateway: Gateway, services: Services, count: int, analyze: bool
) -> Measured:
    """A synced catalogue of `count` products, a few of them archived, one renamed, and the pass
    that follows."""
    created = await create_tenant(services, f"Catalogue {count}", "test")
    tenant = TenantScope(created.client_id, livemode=False)
    async with runtime_named(gateway.settings, "seeding") as (runtime, _):
        await seed_synced(runtime, tenant, [product(n) for n in range(count)])
        await seed_archived(runtime, tenant, range(ARCHIVED))  # marks the sync due
        assert await run_sync(runtime, tenant, Entity.PRODUCT) is not None  # provisions
        await store(runtime, tenant, [renamed(3, "Linen Shirt, renamed")])
        if analyze:  # what `gateway migrate` and a bulk import's sync do (autovacuum is off)
            async with runtime.sessions() as session, session.begin():
                await session.execute(text("ANALYZE canonical_records, ams_sync_records"))
    return await measured_pass(gateway.settings, tenant, "measured")


def woo_copy(n: int) -> ValidRecord:
    """Product n sold on WooCommerce too (the same SKU): linked to the Shopify one."""
    return product(n, source_platform="woocommerce", external_id=f"wc-{n}")


async def seed_linked(runtime: AmsRuntime, tenant: TenantScope, numbers: range) -> None:
    """Products `numbers` linked with a WooCommerce copy, each pair one merged row held by the
    Shopify record, as a finished sync leaves them (policy applied, nothing pending)."""
    entity, table_map = Entity.PRODUCT, table_maps(runtime.settings.contracts_dir)[Entity.PRODUCT]
    copies, originals = [woo_copy(n) for n in numbers], [product(n) for n in numbers]
    async with runtime.sessions() as session, session.begin():
        policy = await current_policy(session, tenant, entity)
        await upsert(session, tenant, entity, new_id("job"), copies)
        await keep_identities(session, tenant, entity, policy.identity, [*originals, *copies])
        stored = {
            (r.source_platform, r.external_id): r
            for r in await session.scalars(
                select(CanonicalRecord).where(CanonicalRecord.client_id == tenant.client_id)
            )
        }
        holders = {
            s.external_id: s
            for s in await session.scalars(
                select(AmsSyncRecord).where(AmsSyncRecord.client_id == tenant.client_id)
            )
        }
        for original, copy in zip(originals, copies, strict=True):
            holder = holders[original.external_id]
            members = [
                stored[("shopify", original.external_id)],
                stored[("woocommerce", copy.external_id)],
            ]
            data = identity_rows.merged_data(members, members[0], policy)
            keys = sorted(identity_rows.key_of(member) for member in members)
            cells = table_map.content(data) | identity_rows.identity_cells(
                table_map, f"{policy.identity}:{copy.data['sku']}", keys
            )
            holder.merged_into = holder.id
            holder.field_hashes = {c: value_hash(v) for c, v in cells.items()}
            session.add(
                AmsSyncRecord(
                    id=new_id("amsrec"),
                    client_id=tenant.client_id,
                    livemode=tenant.livemode,
                    entity=entity.value,
                    source_platform=copy.source_platform,
                    external_id=copy.external_id,
                    airtable_record_id=holder.airtable_record_id,
                    content_hash=copy.content_hash,
                    map_version=table_map.version,
                    field_hashes={},
                    status=RecordSyncStatus.SYNCED.value,
                    synced_at=holder.synced_at,
                    updated_at=holder.updated_at,
                    merged_into=holder.id,
                )
            )
        await session.execute(
            update(CanonicalRecord)
            .where(CanonicalRecord.client_id == tenant.client_id)
            .values(sync_pending=False)
        )
        await identity_rows.mark_applied(session, tenant, entity, policy)


LINKED_FROM = 10  # products 0-9 keep rows of their own (the archived ones, the renamed one)


async def linked_change_pass(gateway: Gateway, services: Services, count: int) -> Measured:
    """A synced catalogue of `count` products, half of them linked (merged rows), a few
    archived, one member of one merged row archived, one product renamed; and the pass that
    follows. The archivals have no planner statistics (autovacuum is off, and only a bulk
    import's sync analyses the catalogue tables)."""
    created = await create_tenant(services, f"Linked {count}", "test")
    tenant = TenantScope(created.client_id, livemode=False)
    async with runtime_named(gateway.settings, "seeding") as (runtime, _):
        await seed_synced(runtime, tenant, [product(n) for n in range(count)])
        await seed_linked(runtime, tenant, range(LINKED_FROM, LINKED_FROM + count // 2))
        await seed_archived(runtime, tenant, range(ARCHIVED))
        async with runtime.sessions() as session, session.begin():
            copy = woo_copy(LINKED_FROM)
            await archive_records(
                session, tenant, Entity.PRODUCT, [("woocommerce", copy.external_id)]
            )
        assert await run_sync(runtime, tenant, Entity.PRODUCT) is not None  # provisions
        await store(runtime, tenant, [renamed(3, "Linen Shirt, renamed")])
        if gateway.settings.database_url.startswith("postgresql"):  # as a bulk import's sync
            async with runtime.sessions() as session, session.begin():
                await session.execute(text("ANALYZE canonical_records, ams_sync_records"))
    return await measured_pass(gateway.settings, tenant, "measured")


async def test_archivals_are_checked_from_the_archived_records_without_table_statistics(
    gateway, services
):
    small = await linked_change_pass(gateway, services, 100)
    large = await linked_change_pass(gateway, services, 1100)

    assert small.run is not None and large.run is not None
    # Only the renamed record: the archived rows show it, the merged row with one archived
    # member of two is not archived.
    assert (small.run.written, large.run.written) == (1, 1)
    assert large.statements == small.statements
    if gateway.settings.database_url.startswith("postgresql"):
        # Without statistics of the archivals a join with them may be planned as a pass over
        # the rows: the archived records are read first, then the rows by key.
        for table in TABLES:
            assert large.rows_read[table] - small.rows_read[table] < 50, large.rows_read
    else:
        assert large.vm_steps - small.vm_steps <= VM_STEPS_PER_CALL


async def unchanged(services: Services, tenant: TenantScope) -> int:
    """The entity sync's `unchanged` figure, as the GraphQL field reads it."""
    async with services.sessions() as session:
        state = await session.get(AmsSyncState, (tenant.client_id, tenant.livemode, "product"))
        assert state is not None
        return await unchanged_count(session, tenant, state)


async def test_a_pass_after_a_one_record_change_reads_that_record_not_the_catalogue(
    gateway, services
):
    postgres = gateway.settings.database_url.startswith("postgresql")
    small = await one_change_pass(gateway, services, 100, postgres)
    large = await one_change_pass(gateway, services, 1100, postgres)

    assert small.run is not None and large.run is not None
    assert (small.run.written, large.run.written) == (1, 1)  # the archived rows are as shown
    assert await unchanged(services, small.tenant) == 99
    assert await unchanged(services, large.tenant) == 1099
    assert large.statements == small.statements
    if postgres:
        # Both tables are read for the changed record only: no count of the catalogue either
        # (`unchanged` is computed when the field is read, not by the pass).
        for table in TABLES:
            assert large.rows_read[table] - small.rows_read[table] < 50
        # (and the Archived columns are checked from the archived records and the rows showing
        # an archival, not from every row).
    else:
        # The same work at 100 and 1,100 records, to the counter's granularity.
        assert large.vm_steps - small.vm_steps <= VM_STEPS_PER_CALL


# PostgreSQL only: SQLite runs one writer at a time, so no write can commit behind a sync.
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_write_committed_late_is_synced_by_the_next_pass(gateway, services):
    created = await create_tenant(services, "Acme", "test")
    tenant = TenantScope(created.client_id, livemode=False)
    async with runtime_named(gateway.settings, "late") as (runtime, _):
        await store(runtime, tenant, [product(n) for n in range(3)])
        assert (await run_sync(runtime, tenant, Entity.PRODUCT)).written == 3  # type: ignore[union-attr]

        async with runtime.sessions() as late, late.begin():  # began before the next change
            await upsert(late, tenant, Entity.PRODUCT, "job_late", [renamed(1, "Late")])
            await store(runtime, tenant, [renamed(2, "Early")])  # another job, committed first
            early = await run_sync(runtime, tenant, Entity.PRODUCT)
            assert early is not None and early.written == 1
        assert await pending(services, tenant) == {external_id(1)}
        async with runtime.sessions() as session, session.begin():
            await mark_sync_due(session, tenant, Entity.PRODUCT)
        later = await run_sync(runtime, tenant, Entity.PRODUCT)

    assert later is not None and later.written == 1
    assert await pending(services, tenant) == set()
    names = {r["fields"]["External ID"]: r["fields"].get("Name") for r in _written(gateway)}
    assert names[external_id(1)] == "Late" and names[external_id(2)] == "Early"


def _written(gateway: Gateway) -> list[dict[str, Any]]:
    return [
        record
        for write in gateway.traffic.writes()
        if write.status == 200
        for record in write.body["records"]
    ]


async def test_a_repair_reset_a_field_map_change_and_a_replay_are_written_again(gateway, services):
    created = await create_tenant(services, "Acme", "test")
    tenant = TenantScope(created.client_id, livemode=False)
    async with runtime_named(gateway.settings, "resets") as (runtime, _):
        await store(runtime, tenant, [product(n) for n in range(4)])
        assert (await run_sync(runtime, tenant, Entity.PRODUCT)).written == 4  # type: ignore[union-attr]
        assert await pending(services, tenant) == set()
        before = len(_written(gateway))

        # A reconciliation repair: the row of product 1 went missing from the base.
        repaired = ("shopify", external_id(1))
        async with runtime.sessions() as session, session.begin():
            finding = Finding(MismatchKind.MISSING, repaired, "rec00000000000001")
            assert await requeue(session, tenant, Entity.PRODUCT, [finding]) == 1
        run = await run_sync(runtime, tenant, Entity.PRODUCT)
        assert run is not None and run.written == 1
        assert [r["fields"]["External ID"] for r in _written(gateway)[before:]] == [repaired[1]]

        # A field map change (another version than the one the rows were written with).
        async with runtime.sessions() as session, session.begin():
            await session.execute(
                update(AmsSyncRecord)
                .where(AmsSyncRecord.client_id == tenant.client_id)
                .values(map_version=AmsSyncRecord.map_version - 1)
            )
            await mark_sync_due(session, tenant, Entity.PRODUCT)
        assert await run_sync(runtime, tenant, Entity.PRODUCT) is not None
        current = table_maps(gateway.settings.contracts_dir)[Entity.PRODUCT].version
        assert set((await bookkeeping(services, tenant)).values()) == {("content", current)}

        # A replay (app.ams.rejections.send_again): the bookkeeping forgets the content.
        async with runtime.sessions() as session, session.begin():
            await send_again(session, tenant, [("product", *repaired)])
        assert await pending(services, tenant) == {repaired[1]}
        assert await run_sync(runtime, tenant, Entity.PRODUCT) is not None
        assert (await bookkeeping(services, tenant))[repaired[1]] == ("content", current)
    assert await pending(services, tenant) == set()


async def bookkeeping(services: Services, tenant: TenantScope) -> dict[str, tuple[str, int]]:
    """Per record: whether its sync record holds its current content, and its field map."""
    record, synced = CanonicalRecord, AmsSyncRecord
    async with services.sessions() as session:
        found = await session.execute(
            select(record.external_id, record.content_hash, synced.content_hash, synced.map_version)
            .join(
                synced,
                (synced.client_id == record.client_id) & (synced.external_id == record.external_id),
            )
            .where(record.client_id == tenant.client_id)
        )
        return {
            row[0]: ("content" if row[1] == row[2] else "other", row[3]) for row in found.tuples()
        }
