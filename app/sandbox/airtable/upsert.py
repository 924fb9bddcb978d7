"""performUpsert: records without an id match existing ones on 1 to 3 merge fields: none →
create, one → update, more → the request fails. Matching reads only the records that can
match, never the whole table: by the merge index (app.sandbox.airtable.merge_index) when a merge
field gives short texts, else by comparing the stored cells in the query."""

from collections.abc import Sequence
from typing import Any

from app.sandbox.airtable import merge_index, store
from app.sandbox.airtable.cells import STORED_AS_WRITTEN
from app.sandbox.airtable.errors import invalid_request
from app.sandbox.airtable.models import SandboxRecord
from app.sandbox.airtable.schema import find_field
from app.sandbox.airtable.writes import RecordInput, TableWriter, WriteOptions


class Upsert:
    def __init__(self, writer: TableWriter, options: WriteOptions) -> None:
        merge_on = options.merge_on or []
        if not 1 <= len(merge_on) <= 3:
            raise invalid_request("performUpsert.fieldsToMergeOn takes 1 to 3 field names")
        self.writer = writer
        self.replace = options.replace
        self.merge_ids = [str(writer.field(name)["id"]) for name in merge_on]
        self.created: list[str] = []
        self.updated: list[str] = []
        self.stored: list[SandboxRecord] = []

    async def prepare(self, items: Sequence[RecordInput]) -> None:
        """Reads, once per request, the stored records that may match. A merge field narrows
        the read when every record to upsert gives it a text stored as written: it is compared
        without conversion, so nothing is checked or added to the table before its turn."""
        to_match = [item for item in items if item.id is None]
        if not to_match:
            return
        allowed: dict[str, set[str]] = {}
        for field_id in self.merge_ids:
            if self.writer.field(field_id)["type"] not in STORED_AS_WRITTEN:
                continue
            written = [self._as_written(item, field_id) for item in to_match]
            if all(isinstance(value, str) and value for value in written):
                allowed[field_id] = set(written)
        writer, session, tenant = self.writer, self.writer.session, self.writer.tenant
        indexed = [f for f, texts in allowed.items() if all(map(merge_index.indexable, texts))]
        if indexed:
            await merge_index.ensure(session, tenant, writer.table, indexed[:1])
            texts = allowed[indexed[0]]
            self.stored = await merge_index.candidates(
                session, tenant, writer.table, indexed[0], texts
            )
            return
        self.stored = await store.merge_candidates(session, tenant, writer.table.id, allowed)

    async def write(self, item: RecordInput) -> SandboxRecord:
        key = self.writer.merge_key(item, self.merge_ids)
        matches = [
            r for r in self._candidates() if [r.fields.get(f) for f in self.merge_ids] == key
        ]
        if len(matches) > 1:
            raise invalid_request(
                f"{len(matches)} records match the fieldsToMergeOn values; at most one may"
            )
        if matches:
            self.writer.update(matches[0], item.fields, self.replace)
            self.updated.append(matches[0].id)
            return matches[0]
        record = await self.writer.create(item.fields)
        self.created.append(record.id)
        return record

    def summary(self) -> dict[str, Any]:
        return {"createdRecords": self.created, "updatedRecords": self.updated}

    def _as_written(self, item: RecordInput, field_id: str) -> Any:
        for key, value in item.fields.items():
            field = find_field(self.writer.definition, key)
            if field is not None and field["id"] == field_id:
                return value
        return None

    def _candidates(self) -> list[SandboxRecord]:
        """The stored records read by `prepare`, and this request's writes as they now stand."""
        return list(({r.id: r for r in self.stored} | self.writer.written).values())
