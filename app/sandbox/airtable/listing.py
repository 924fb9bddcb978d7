"""List records: which fields, which records (filterByFormula), in what order, which page."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.sandbox.airtable.errors import (
    AirtableError,
    invalid_formula,
    iterator_not_available,
    unknown_field,
)
from app.sandbox.airtable.formula import Formula, as_text, parse_formula
from app.sandbox.airtable.ids import airtable_time
from app.sandbox.airtable.models import SandboxRecord
from app.sandbox.airtable.schema import Json, find_field

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class SortSpec:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class ListQuery:
    page_size: int = MAX_PAGE_SIZE
    offset: str | None = None
    max_records: int | None = None
    fields: list[str] | None = None
    sort: list[SortSpec] = field(default_factory=list)
    formula: str | None = None
    view: str | None = None
    by_field_id: bool = False


def render_record(
    record: SandboxRecord,
    definition: Json,
    by_field_id: bool,
    only: set[str] | None = None,
) -> Json:
    """The record as the API returns it: empty cells are never stored, so never shown."""
    names = {f["id"]: f["id"] if by_field_id else f["name"] for f in definition["fields"]}
    fields = {
        names[field_id]: value
        for field_id, value in record.fields.items()
        if field_id in names and (only is None or field_id in only)
    }
    return {"id": record.id, "createdTime": airtable_time(record.created_at), "fields": fields}


def _field_id(definition: Json, key: str) -> str:
    found = find_field(definition, key)
    if found is None:
        raise unknown_field(key)
    return str(found["id"])


def _view_exists(definition: Json, view: str) -> None:
    if not any(view in (v["id"], v["name"]) for v in definition["views"]):
        raise AirtableError(422, "VIEW_NAME_NOT_FOUND", f'Could not find view "{view}"')


def _compiled_formula(definition: Json, text: str | None) -> Formula | None:
    if text is None or not text.strip():
        return None
    formula = parse_formula(text)
    unknown = sorted(n for n in formula.field_names if find_field(definition, n) is None)
    if unknown:
        raise invalid_formula("Unknown field names: " + ", ".join(unknown))
    return formula


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, float(value), "")
    return (1, 0.0, as_text(value).casefold())


@dataclass(frozen=True)
class ListPlan:
    """A validated query against one table's definition: unknown names fail before any read."""

    query: ListQuery
    definition: Json
    only: set[str] | None
    sort: list[tuple[str, bool]]
    formula: Formula | None

    @classmethod
    def build(cls, definition: Json, query: ListQuery) -> "ListPlan":
        if query.view is not None:
            _view_exists(definition, query.view)
        only = None if query.fields is None else {_field_id(definition, k) for k in query.fields}
        sort = [(_field_id(definition, s.field), s.descending) for s in query.sort]
        return cls(query, definition, only, sort, _compiled_formula(definition, query.formula))

    @property
    def filters_or_sorts(self) -> bool:
        """Whether the records to page through must first be read, filtered and sorted."""
        return self.formula is not None or bool(self.sort)

    @property
    def offset_record_id(self) -> str | None:
        return None if self.query.offset is None else self.query.offset.removeprefix("itr/")

    def select(self, records: Sequence[SandboxRecord]) -> list[SandboxRecord]:
        chosen = [
            r for r in records if self.formula is None or self.formula.matches(self._cells(r))
        ]
        for field_id, descending in reversed(self.sort):
            chosen.sort(key=lambda r: _sort_key(r.fields.get(field_id)), reverse=descending)
        if self.query.max_records is not None:
            chosen = chosen[: self.query.max_records]
        return chosen

    def _cells(self, record: SandboxRecord) -> Any:
        def cell(name: str) -> Any:
            found = find_field(self.definition, name)
            return record.fields.get(found["id"]) if found else None

        return cell

    def page(self, records: Sequence[SandboxRecord]) -> Json:
        chosen = self.select(records)
        start = self._start(chosen)
        page = chosen[start : start + self.query.page_size]
        end = start + len(page)
        return self.render(page, chosen[end] if end < len(chosen) else None)

    def render(self, page: Sequence[SandboxRecord], following: SandboxRecord | None) -> Json:
        """The response body: the page, and an offset naming the next page's first record."""
        body: Json = {
            "records": [
                render_record(r, self.definition, self.query.by_field_id, self.only) for r in page
            ]
        }
        if following is not None:
            body["offset"] = "itr/" + following.id
        return body

    def _start(self, chosen: list[SandboxRecord]) -> int:
        if self.query.offset is None:
            return 0
        for index, record in enumerate(chosen):
            if record.id == self.offset_record_id:
                return index
        raise iterator_not_available()
