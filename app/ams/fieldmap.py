"""The field map in `contracts/ams/airtable-fields.json`: which Airtable column each canonical
field is written to, and how. Data, checked at load against the base template so a column the
template does not have fails at start-up, not on the first write."""

import hashlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from app.contracts.entities import Entity
from app.provisioning import templates

FIELD_MAP = "airtable-fields.json"
SYNCED_AT = "synced_at"
SELECT_TYPES = {"singleSelect", "multipleSelects"}


class FieldMapError(ValueError):
    """The field map does not fit the base template."""


@dataclass(frozen=True)
class Column:
    name: str
    paths: tuple[str, ...]
    kind: str = "value"
    item: str | None = None
    order_by: str | None = None
    new_choices: bool = False
    select: bool = False
    choices: frozenset[str] = frozenset()  # a select column's options in the base template

    def value(self, data: dict[str, Any]) -> Any:
        """The cell value for this canonical record; None for an empty cell."""
        raw = next((found for p in self.paths if (found := _at(data, p)) not in (None, "")), None)
        if raw is None:
            return None
        if self.kind == "number":
            return float(raw)
        if self.kind == "lines":
            items = sorted(raw, key=lambda i: i.get(self.order_by, 0)) if self.order_by else raw
            lines = [str(i.get(self.item) if self.item else i) for i in items]
            return "\n".join(line for line in lines if line) or None
        return raw


@dataclass(frozen=True)
class TableMap:
    entity: Entity
    table: str
    columns: tuple[Column, ...]
    sync_fields: dict[str, str]
    merge_on: tuple[str, ...]
    version: int
    archive_field: str | None = None  # checkbox column checked on archived records
    # Linked records' merged row (app.ams.identity_rows): what → column ("identity", "members");
    # empty when the entity writes one row per record whatever the links.
    identity_fields: dict[str, str] = field(default_factory=dict)

    def content(self, data: dict[str, Any]) -> dict[str, Any]:
        """The mapped columns (sync columns aside) of a canonical record."""
        return {column.name: column.value(data) for column in self.columns}

    def sync_values(self, data: dict[str, Any], synced_at: str) -> dict[str, Any]:
        values = {SYNCED_AT: synced_at, **data}
        return {column: values.get(path) for column, path in self.sync_fields.items()}

    def typecast(self, cells: dict[str, Any]) -> bool:
        """Typecast lets Airtable add the new tags a record brings. It is used only when every
        value of a closed select column is one of the template's options, so such a column never
        gains an option: a value outside them is left for Airtable to refuse."""
        for column in self.columns:
            value = cells.get(column.name)
            if not column.select or column.new_choices or not value:
                continue
            if not set(map(str, value if isinstance(value, list) else [value])) <= column.choices:
                return False
        return True


def value_hash(value: Any) -> str:
    """A short, stable hash of one cell value (what change tracking compares)."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _at(data: dict[str, Any], path: str) -> Any:
    found: Any = data
    for part in path.split("."):
        if not isinstance(found, dict):
            return None
        found = found.get(part)
    return found


@cache
def table_maps(contracts_dir: Path) -> dict[Entity, TableMap]:
    document: dict[str, Any] = orjson.loads((contracts_dir / "ams" / FIELD_MAP).read_bytes())
    template = {t["name"]: t for t in templates.base_tables(contracts_dir)}
    maps = {}
    for entity_name, spec in document["entities"].items():
        entity = Entity(entity_name)
        table = template.get(spec["table"])
        if table is None:
            raise FieldMapError(f"{entity}: the base template has no table {spec['table']!r}")
        fields = {column["name"]: column for column in table["fields"]}
        columns = tuple(_column(name, rule, fields) for name, rule in spec["fields"].items())
        archive_field = document.get("archive_field")
        identity_fields = document.get("identity_fields", {}) if spec.get("linked_rows") else {}
        for name in [
            *document["sync_fields"],
            *document["merge_on"],
            *([archive_field] if archive_field else []),
            *identity_fields,
        ]:
            if name not in fields:
                raise FieldMapError(f"{spec['table']}: the base template has no column {name!r}")
        maps[entity] = TableMap(
            entity=entity,
            table=spec["table"],
            columns=columns,
            sync_fields=dict(document["sync_fields"]),
            merge_on=tuple(document["merge_on"]),
            version=int(document["version"]),
            archive_field=archive_field,
            identity_fields={what: column for column, what in identity_fields.items()},
        )
    return maps


def _column(name: str, rule: dict[str, Any], fields: dict[str, dict[str, Any]]) -> Column:
    if name not in fields:
        raise FieldMapError(f"the base template has no column {name!r}")
    choices = fields[name].get("options", {}).get("choices", [])
    paths = rule["from"] if isinstance(rule["from"], list) else [rule["from"]]
    return Column(
        name=name,
        paths=tuple(paths),
        kind=rule.get("as", "value"),
        item=rule.get("item"),
        order_by=rule.get("order_by"),
        new_choices=bool(rule.get("new_choices", False)),
        select=fields[name]["type"] in SELECT_TYPES,
        choices=frozenset(choice["name"] for choice in choices),
    )
