"""Comparing what a base holds with what the gateway wrote there: pure functions, no I/O.

Expected cells come from the same field map and value conversion the AMS writer uses
(`TableMap.content`); both sides are then brought to Airtable's reading of a cell type (an empty
cell is absent, a dateTime is read back in UTC with milliseconds, a multiple select drops repeated
options), so a difference is a real one, never a formatting one.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.ams.fieldmap import TableMap
from app.integrations.airtable import AirtableRecord
from app.provisioning import templates
from app.reconciliation.models import MismatchKind

Key = tuple[str, str]  # (source platform, external id)
EXTERNAL_ID, SOURCE, SOURCE_UPDATED_AT = "External ID", "Source", "Source Updated At"
NUMBER_TYPES = {"number", "currency", "percent"}
# Columns the canonical record alone cannot predict: an asset's Drive file is the sync's choice.
UNPREDICTABLE_PREFIX = "drive."


@dataclass(frozen=True)
class Expected:
    """A synced record: the row the base should hold for it."""

    key: Key
    airtable_record_id: str | None
    cells: dict[str, Any]


@dataclass(frozen=True)
class Finding:
    kind: MismatchKind
    key: Key | None
    airtable_record_id: str | None
    columns: tuple[str, ...] = ()


@dataclass
class Comparison:
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Columns:
    """The columns an audit compares, with their Airtable types, and the archive checkbox (a
    row the AMS sync archived is its own business, never an unknown one)."""

    types: dict[str, str]
    archive: str | None = None

    @classmethod
    def of(
        cls, table_map: TableMap, contracts_dir: Path, identity_columns: bool = True
    ) -> "Columns":
        """`identity_columns`: whether the base has a merged row's identity columns (a base
        made before the template had them does not)."""
        template = {t["name"]: t for t in templates.base_tables(contracts_dir)}
        kinds = {f["name"]: f["type"] for f in template[table_map.table]["fields"]}
        names = [
            c.name
            for c in table_map.columns
            if not all(p.startswith(UNPREDICTABLE_PREFIX) for p in c.paths)
        ]
        if identity_columns:  # a merged row's (app.ams.identity_rows)
            names += table_map.identity_fields.values()
        types = {name: kinds[name] for name in [*names, SOURCE_UPDATED_AT]}
        return cls(types, table_map.archive_field)

    def to_read(self) -> list[str]:
        return [EXTERNAL_ID, SOURCE, *self.types, *([self.archive] if self.archive else [])]

    def archived(self, row: AirtableRecord) -> bool:
        return bool(self.archive and row.fields.get(self.archive))

    def expected(
        self, table_map: TableMap, data: Mapping[str, Any], extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """`extra`: a merged row's identity columns (app.ams.identity_rows)."""
        cells = table_map.content(dict(data)) | dict(extra or {})
        cells[SOURCE_UPDATED_AT] = data.get("source_updated_at")
        return {name: cells.get(name) for name in self.types}

    def differing(self, expected: Mapping[str, Any], found: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(
            name
            for name, kind in self.types.items()
            if not _same(kind, expected.get(name), found.get(name))
        )


def compare(
    columns: Columns,
    expected: Iterable[Expected],
    rows: Iterable[AirtableRecord],
    unjudged: Mapping[Key, str | None] | None,
) -> Comparison:
    """`unjudged`: records whose sync is pending or was refused (full runs: a row of theirs is
    not an extra one); None for a sample, which reads only the sampled records' rows and so
    cannot tell an extra row."""
    by_key: dict[Key | None, list[AirtableRecord]] = defaultdict(list)
    for row in rows:
        by_key[_key_of(row)].append(row)
    result = Comparison()
    for record in expected:
        found = by_key.pop(record.key, [])
        if not found:
            result.findings.append(Finding(MismatchKind.MISSING, record.key, None))
            continue
        kept = _kept(found, record.airtable_record_id)
        result.findings += _duplicates(record.key, found, kept)
        differing = columns.differing(record.cells, kept.fields)
        if differing:
            result.findings.append(Finding(MismatchKind.FIELD, record.key, kept.id, differing))
    if unjudged is None:
        return result
    for key, found in by_key.items():
        if key is not None and key in unjudged:
            result.findings += _duplicates(key, found, _kept(found, unjudged[key]))
            continue
        extra = [row for row in found if not columns.archived(row)]
        result.findings += [Finding(MismatchKind.EXTRA, key, row.id) for row in extra]
    return result


def _key_of(row: AirtableRecord) -> Key | None:
    source, external_id = row.fields.get(SOURCE), row.fields.get(EXTERNAL_ID)
    if not isinstance(source, str) or not isinstance(external_id, str):
        return None
    return (source, external_id)


def _kept(found: list[AirtableRecord], tracked: str | None) -> AirtableRecord:
    """The row the sync writes to: the one it tracks, else the oldest (the others go)."""
    return next((r for r in found if r.id == tracked), min(found, key=_age))


def _age(row: AirtableRecord) -> tuple[str, str]:
    return (row.created_time, row.id)


def _duplicates(key: Key, found: list[AirtableRecord], kept: AirtableRecord) -> list[Finding]:
    return [Finding(MismatchKind.DUPLICATE, key, row.id) for row in found if row is not kept]


def _same(kind: str, expected: Any, found: Any) -> bool:
    left, right = _normal(kind, expected), _normal(kind, found)
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
    return bool(left == right)


def _normal(kind: str, value: Any) -> Any:
    """A cell value as Airtable reads it back; None for an empty cell."""
    if value is None or value == "" or value == [] or value is False:
        return None
    try:
        if kind in NUMBER_TYPES:
            return float(value)
        if kind == "dateTime":
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)
        if kind == "date":
            return str(value)[:10]
    except (TypeError, ValueError):
        return value  # not of the column's type: compared as it is (and so differs)
    if kind == "multipleSelects" and isinstance(value, list):
        return tuple(dict.fromkeys(str(item) for item in value))
    if kind == "checkbox":
        return bool(value)
    return value
