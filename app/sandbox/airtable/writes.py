"""Writing records into one table: cell conversion, link checks, upsert matching."""

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.sandbox.airtable import merge_index, store
from app.sandbox.airtable.cells import CellWriter
from app.sandbox.airtable.errors import (
    invalid_records,
    invalid_request,
    row_does_not_exist,
    unknown_field,
)
from app.sandbox.airtable.ids import new_airtable_id
from app.sandbox.airtable.models import SandboxRecord, SandboxTable
from app.sandbox.airtable.schema import Json, find_field
from app.tenancy.models import Tenant

MAX_RECORDS_PER_REQUEST = 10


@dataclass(frozen=True)
class RecordInput:
    fields: Json
    id: str | None = None


@dataclass(frozen=True)
class WriteOptions:
    typecast: bool = False
    by_field_id: bool = False
    replace: bool = False
    merge_on: list[str] | None = None


def check_batch_size(count: int, verb: str) -> None:
    if not 1 <= count <= MAX_RECORDS_PER_REQUEST:
        raise invalid_records(
            f"A maximum of {MAX_RECORDS_PER_REQUEST} records can be {verb} per request "
            f"but you have provided {count}."
        )


class TableWriter:
    """One request's writes to one table. With typecast, new select options are added to the
    table's definition, saved by `finish()` with the records."""

    def __init__(
        self, session: AsyncSession, tenant: Tenant, table: SandboxTable, typecast: bool
    ) -> None:
        self.session = session
        self.tenant = tenant
        self.table = table
        self.definition: Json = copy.deepcopy(table.definition)
        self.cells = CellWriter(typecast)
        self.now = datetime.now(UTC)
        self.position: int | None = None
        self.written: dict[str, SandboxRecord] = {}

    def field(self, key: str) -> Json:
        found = find_field(self.definition, key)
        if found is None:
            raise unknown_field(key)
        return found

    def converted(self, incoming: Json, current: Json, replace: bool) -> Json:
        """The cells after the write: PATCH merges into `current`, PUT replaces it."""
        result = {} if replace else dict(current)
        for key, value in incoming.items():
            field = self.field(key)
            stored = self.cells.write(field, value, current.get(field["id"]))
            if stored is None:
                result.pop(field["id"], None)
            else:
                result[field["id"]] = stored
        return result

    async def create(self, incoming: Json) -> SandboxRecord:
        if self.position is None:
            self.position = await store.next_position(self.session, self.tenant, self.table.id)
        record = SandboxRecord(
            id=new_airtable_id("rec"),
            table_id=self.table.id,
            client_id=self.tenant.client_id,
            position=self.position,
            fields=self.converted(incoming, {}, replace=True),
            created_at=self.now,
        )
        self.position += 1
        self.session.add(record)
        self.written[record.id] = record
        return record

    def update(self, record: SandboxRecord, incoming: Json, replace: bool) -> None:
        record.fields = self.converted(incoming, record.fields, replace)
        self.written[record.id] = record

    def merge_key(self, item: RecordInput, merge_ids: list[str]) -> list[Any]:
        """The converted values of the merge fields, as they would be stored."""
        key: list[Any] = []
        for field_id in merge_ids:
            field = self.field(field_id)
            present = [v for k, v in item.fields.items() if self.field(k)["id"] == field_id]
            if not present:
                raise invalid_request(f'every record must set the merge field "{field["name"]}"')
            key.append(self.cells.write(field, present[0], None))
        return key

    async def finish(self, records: Sequence[SandboxRecord]) -> None:
        await self._check_links(records)
        if self.cells.choices_added:
            self.table.definition = self.definition
        await merge_index.refresh(
            self.session, self.tenant, self.table, list(self.written.values())
        )

    async def _check_links(self, records: Sequence[SandboxRecord]) -> None:
        for field in self.definition["fields"]:
            if field["type"] != "multipleRecordLinks":
                continue
            wanted = {rid for r in records for rid in r.fields.get(field["id"], [])}
            if not wanted:
                continue
            linked_table = field["options"]["linkedTableId"]
            found = await store.records_of(self.session, self.tenant, linked_table, wanted)
            missing = sorted(wanted - {r.id for r in found})
            if missing:
                raise row_does_not_exist(missing[0])
