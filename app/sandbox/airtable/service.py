"""The sandbox's Airtable verbs. Each takes the session and the calling tenant explicitly and
raises AirtableError; the transport renders them."""

import copy
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.sandbox.airtable import store
from app.sandbox.airtable.errors import (
    invalid_request,
    iterator_not_available,
    record_not_found,
    row_does_not_exist,
)
from app.sandbox.airtable.ids import is_airtable_id, new_airtable_id
from app.sandbox.airtable.listing import ListPlan, ListQuery, render_record
from app.sandbox.airtable.models import SandboxBase, SandboxRecord, SandboxTable
from app.sandbox.airtable.schema import (
    Json,
    SchemaContext,
    new_field,
    new_table_definition,
    table_model,
)
from app.sandbox.airtable.store import TableRef
from app.sandbox.airtable.upsert import Upsert
from app.sandbox.airtable.writes import (
    RecordInput,
    TableWriter,
    WriteOptions,
    check_batch_size,
)
from app.tenancy.models import Tenant

BASES_PAGE_SIZE = 1000


# Metadata


async def list_bases(session: AsyncSession, tenant: Tenant, offset: str | None) -> Json:
    bases = list(await store.bases_of(session, tenant))
    start = 0
    if offset is not None:
        ids = [base.id for base in bases]
        if offset not in ids:
            raise invalid_request("the offset is not valid")
        start = ids.index(offset)
    page = bases[start : start + BASES_PAGE_SIZE]
    body: Json = {
        "bases": [{"id": b.id, "name": b.name, "permissionLevel": "create"} for b in page]
    }
    if start + len(page) < len(bases):
        body["offset"] = bases[start + len(page)].id
    return body


def _table_row(tenant: Tenant, base_id: str, definition: Json, position: int) -> SandboxTable:
    return SandboxTable(
        id=definition["id"],
        base_id=base_id,
        client_id=tenant.client_id,
        position=position,
        name=definition["name"],
        definition=definition,
        created_at=datetime.now(UTC),
    )


async def create_base(session: AsyncSession, tenant: Tenant, body: Json) -> Json:
    name, workspace_id, specs = body.get("name"), body.get("workspaceId"), body.get("tables")
    if not isinstance(name, str) or not name.strip():
        raise invalid_request("a base needs a name")
    if not is_airtable_id(workspace_id, "wsp"):
        raise invalid_request("workspaceId must be a workspace id (wsp…)")
    if not isinstance(specs, list) or not specs:
        raise invalid_request("a base needs at least one table")
    base = SandboxBase(
        id=new_airtable_id("app"),
        client_id=tenant.client_id,
        workspace_id=str(workspace_id),
        name=name.strip(),
        created_at=datetime.now(UTC),
    )
    definitions: list[Json] = []
    for spec in specs:
        taken = [d["name"] for d in definitions]
        definitions.append(new_table_definition(spec, taken, SchemaContext(())))
    session.add(base)
    await session.flush()
    session.add_all(_table_row(tenant, base.id, d, i) for i, d in enumerate(definitions))
    return {"id": base.id, "tables": definitions}


async def base_schema(
    session: AsyncSession, tenant: Tenant, base_id: str, with_visible_field_ids: bool
) -> Json:
    tables = await store.tables_of(session, tenant, base_id)
    return {"tables": [table_model(t.definition, with_visible_field_ids) for t in tables]}


async def create_table(session: AsyncSession, tenant: Tenant, base_id: str, body: Json) -> Json:
    tables = await store.tables_of(session, tenant, base_id)
    context = SchemaContext(t.id for t in tables)
    definition = new_table_definition(body, [t.name for t in tables], context)
    session.add(_table_row(tenant, base_id, definition, len(tables)))
    return definition


async def create_field(session: AsyncSession, tenant: Tenant, ref: TableRef, body: Json) -> Json:
    tables = await store.tables_of(session, tenant, ref.base_id)
    table = store.pick_table(tables, ref.id_or_name)
    definition = copy.deepcopy(table.definition)
    taken = [f["name"] for f in definition["fields"]]
    field = new_field(body, taken, SchemaContext(t.id for t in tables))
    definition["fields"].append(field)
    table.definition = definition
    return field


# Records


async def list_records(
    session: AsyncSession, tenant: Tenant, ref: TableRef, query: ListQuery
) -> Json:
    table = await store.get_table(session, tenant, ref)
    plan = ListPlan.build(table.definition, query)
    if plan.filters_or_sorts:
        return plan.page(await store.records_of(session, tenant, table.id))
    return await _page_in_creation_order(session, tenant, table.id, plan)


async def _page_in_creation_order(
    session: AsyncSession, tenant: Tenant, table_id: str, plan: ListPlan
) -> Json:
    """One page read from the table's own order: the offset names the page's first record."""
    query, first, start = plan.query, None, 0
    if plan.offset_record_id is not None:
        found = await store.records_of(session, tenant, table_id, [plan.offset_record_id])
        if not found:
            raise iterator_not_available()
        first = found[0]
        if query.max_records is not None:
            start = await store.count_before(session, tenant, first)
    room = query.page_size
    if query.max_records is not None:
        if start >= query.max_records:
            raise iterator_not_available()
        room = min(room, query.max_records - start)
    rows = await store.records_from(session, tenant, table_id, first, room + 1)
    more = len(rows) > room and (query.max_records is None or start + room < query.max_records)
    return plan.render(rows[:room], rows[room] if more else None)


async def get_record(
    session: AsyncSession,
    tenant: Tenant,
    ref: TableRef,
    record_id: str,
    by_field_id: bool,
) -> Json:
    table = await store.get_table(session, tenant, ref)
    found = await store.records_of(session, tenant, table.id, [record_id])
    if not found:
        raise record_not_found()
    return render_record(found[0], table.definition, by_field_id)


async def create_records(
    session: AsyncSession,
    tenant: Tenant,
    ref: TableRef,
    inputs: Sequence[RecordInput],
    options: WriteOptions,
) -> list[Json]:
    check_batch_size(len(inputs), "created")
    table = await store.get_table(session, tenant, ref)
    writer = TableWriter(session, tenant, table, options.typecast)
    records = [await writer.create(item.fields) for item in inputs]
    await writer.finish(records)
    return [render_record(r, writer.definition, options.by_field_id) for r in records]


async def update_records(
    session: AsyncSession,
    tenant: Tenant,
    ref: TableRef,
    inputs: Sequence[RecordInput],
    options: WriteOptions,
) -> Json:
    """PATCH merges, PUT replaces; with `merge_on` records without an id are upserted."""
    check_batch_size(len(inputs), "updated")
    table = await store.get_table(session, tenant, ref)
    writer = TableWriter(session, tenant, table, options.typecast)
    upsert = Upsert(writer, options) if options.merge_on is not None else None
    if upsert is not None:
        await upsert.prepare(inputs)
    wanted = [item.id for item in inputs if item.id]
    existing = await store.records_of(session, tenant, table.id, wanted) if wanted else []
    by_id = {record.id: record for record in existing}
    records: list[SandboxRecord] = []
    for item in inputs:
        if item.id is not None:
            record = by_id.get(item.id)
            if record is None:
                raise row_does_not_exist(item.id)
            writer.update(record, item.fields, options.replace)
        elif upsert is None:
            raise invalid_request("every record to update needs an id")
        else:
            record = await upsert.write(item)
        records.append(record)
    await writer.finish(records)
    body: Json = {
        "records": [render_record(r, writer.definition, options.by_field_id) for r in records]
    }
    return body | upsert.summary() if upsert else body


async def delete_records(
    session: AsyncSession, tenant: Tenant, ref: TableRef, record_ids: list[str]
) -> list[Json]:
    check_batch_size(len(record_ids), "deleted")
    table = await store.get_table(session, tenant, ref)
    found = {r.id: r for r in await store.records_of(session, tenant, table.id, record_ids)}
    for record_id in record_ids:
        if record_id not in found:
            raise row_does_not_exist(record_id)
    for record in found.values():
        await session.delete(record)
    return [{"id": record_id, "deleted": True} for record_id in record_ids]
