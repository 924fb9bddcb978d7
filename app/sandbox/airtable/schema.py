"""Airtable's metadata model: field definitions as Airtable stores and serves them, tables with
their primary field and a "Grid view". Definitions are plain JSON (what the API returns)."""

from collections.abc import Callable, Iterable
from typing import Any

from app.sandbox.airtable.errors import AirtableError, invalid_schema
from app.sandbox.airtable.ids import new_airtable_id

Json = dict[str, Any]

TEXT_TYPES = frozenset(
    {"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber"}
)
NOT_PRIMARY_TYPES = frozenset(
    {"checkbox", "singleSelect", "multipleSelects", "multipleAttachments", "multipleRecordLinks"}
)
DATE_FORMATS = {
    "local": "l",
    "friendly": "LL",
    "us": "M/D/YYYY",
    "european": "D/M/YYYY",
    "iso": "YYYY-MM-DD",
}
TIME_FORMATS = {"12hour": "h:mma", "24hour": "HH:mm"}


def options_error(field_type: str, detail: str) -> AirtableError:
    return invalid_schema(
        "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE",
        f"Invalid options for field type {field_type}: {detail}",
    )


def _no_options(options: Json, _: "SchemaContext") -> Json | None:
    if options:
        raise options_error("text", "this field type takes no options")
    return None


def _precision(options: Json, highest: int, field_type: str) -> int:
    precision = options.get("precision")
    if not isinstance(precision, int) or isinstance(precision, bool):
        raise options_error(field_type, "options.precision is required")
    if not 0 <= precision <= highest:
        raise options_error(field_type, f"options.precision must be 0 to {highest}")
    return precision


def _number_options(options: Json, _: "SchemaContext") -> Json:
    return {"precision": _precision(options, 8, "number")}


def _currency_options(options: Json, _: "SchemaContext") -> Json:
    symbol = options.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise options_error("currency", "options.symbol is required")
    return {"precision": _precision(options, 7, "currency"), "symbol": symbol}


def _checkbox_options(options: Json, _: "SchemaContext") -> Json:
    return {"color": options.get("color", "greenBright"), "icon": options.get("icon", "check")}


def new_choice(name: str, color: str | None = None) -> Json:
    choice: Json = {"id": new_airtable_id("sel"), "name": name}
    if color:
        choice["color"] = color
    return choice


def _select_options(options: Json, _: "SchemaContext") -> Json:
    choices = options.get("choices")
    if not isinstance(choices, list):
        raise options_error("select", "options.choices is required")
    made: list[Json] = []
    for choice in choices:
        name = choice.get("name") if isinstance(choice, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise options_error("select", "every choice needs a name")
        if any(existing["name"] == name for existing in made):
            raise options_error("select", f'the choice "{name}" is given twice')
        made.append(new_choice(name, choice.get("color")))
    return {"choices": made}


def _named_format(value: Any, formats: dict[str, str], what: str, field_type: str) -> Json:
    name = value.get("name") if isinstance(value, dict) else None
    if name not in formats:
        raise options_error(field_type, f"options.{what}.name must be one of {sorted(formats)}")
    return {"name": name, "format": formats[name]}


def _date_options(options: Json, _: "SchemaContext") -> Json:
    return {
        "dateFormat": _named_format(options.get("dateFormat"), DATE_FORMATS, "dateFormat", "date")
    }


def _date_time_options(options: Json, _: "SchemaContext") -> Json:
    time_zone = options.get("timeZone")
    if not isinstance(time_zone, str) or not time_zone:
        raise options_error("dateTime", "options.timeZone is required")
    return {
        "timeZone": time_zone,
        "dateFormat": _named_format(
            options.get("dateFormat"), DATE_FORMATS, "dateFormat", "dateTime"
        ),
        "timeFormat": _named_format(
            options.get("timeFormat"), TIME_FORMATS, "timeFormat", "dateTime"
        ),
    }


def _attachment_options(options: Json, _: "SchemaContext") -> Json:
    return {"isReversed": bool(options.get("isReversed", False))}


def _link_options(options: Json, context: "SchemaContext") -> Json:
    linked = options.get("linkedTableId")
    if linked not in context.table_ids:
        raise options_error("multipleRecordLinks", "options.linkedTableId names no table here")
    return {
        "linkedTableId": linked,
        "isReversed": False,
        "prefersSingleRecordLink": bool(options.get("prefersSingleRecordLink", False)),
    }


class SchemaContext:
    """What a new field may refer to: the ids of the tables already in its base."""

    def __init__(self, table_ids: Iterable[str]) -> None:
        self.table_ids = frozenset(table_ids)


OptionsBuilder = Callable[[Json, SchemaContext], Json | None]
OPTIONS: dict[str, OptionsBuilder] = {
    **dict.fromkeys(TEXT_TYPES, _no_options),
    "number": _number_options,
    "percent": _number_options,
    "currency": _currency_options,
    "checkbox": _checkbox_options,
    "singleSelect": _select_options,
    "multipleSelects": _select_options,
    "date": _date_options,
    "dateTime": _date_time_options,
    "multipleAttachments": _attachment_options,
    "multipleRecordLinks": _link_options,
}


def _check_name(name: Any, taken: Iterable[str], error_type: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise invalid_schema(error_type, f"A {what} name must not be empty")
    if name.strip().casefold() in {other.casefold() for other in taken}:
        raise invalid_schema(error_type, f'A {what} named "{name.strip()}" already exists')
    return name.strip()


def new_field(spec: Any, taken: Iterable[str], context: SchemaContext) -> Json:
    """A field definition from a create request, with its new id and its options completed."""
    if not isinstance(spec, dict):
        raise invalid_schema("INVALID_REQUEST_UNKNOWN", "Invalid request: a field is an object")
    name = _check_name(spec.get("name"), taken, "DUPLICATE_OR_EMPTY_FIELD_NAME", "field")
    field_type = spec.get("type")
    builder = OPTIONS.get(field_type) if isinstance(field_type, str) else None
    if builder is None:
        raise invalid_schema("INVALID_FIELD_TYPE", f"Unsupported field type: {field_type!r}")
    raw_options = spec.get("options") or {}
    if not isinstance(raw_options, dict):
        raise options_error(str(field_type), "options must be an object")
    field: Json = {"type": field_type, "id": new_airtable_id("fld"), "name": name}
    if isinstance(spec.get("description"), str):
        field["description"] = spec["description"]
    options = builder(raw_options, context)
    if options is not None:
        field["options"] = options
    return field


def new_table_definition(spec: Any, taken: Iterable[str], context: SchemaContext) -> Json:
    """A table from a create request: fields (the first is primary) and a "Grid view"."""
    if not isinstance(spec, dict):
        raise invalid_schema("INVALID_REQUEST_UNKNOWN", "Invalid request: a table is an object")
    name = _check_name(spec.get("name"), taken, "DUPLICATE_TABLE_NAME", "table")
    specs = spec.get("fields")
    if not isinstance(specs, list) or not specs:
        raise invalid_schema("INVALID_REQUEST_UNKNOWN", "Invalid request: a table needs fields")
    fields: list[Json] = []
    for field_spec in specs:
        fields.append(new_field(field_spec, [f["name"] for f in fields], context))
    if fields[0]["type"] in NOT_PRIMARY_TYPES:
        raise invalid_schema(
            "INVALID_FIELD_TYPE", f"A {fields[0]['type']} field cannot be the primary field"
        )
    definition: Json = {
        "id": new_airtable_id("tbl"),
        "name": name,
        "primaryFieldId": fields[0]["id"],
        "fields": fields,
        "views": [{"id": new_airtable_id("viw"), "name": "Grid view", "type": "grid"}],
    }
    if isinstance(spec.get("description"), str):
        definition["description"] = spec["description"]
    return definition


def find_field(definition: Json, key: str) -> Json | None:
    """A field by id or by exact name, as the records API accepts either."""
    fields: list[Json] = definition["fields"]
    for field in fields:
        if key in (field["id"], field["name"]):
            return field
    return None


def table_model(definition: Json, with_visible_field_ids: bool) -> Json:
    """The table as `GET .../tables` serves it (views list their visible fields on request)."""
    if not with_visible_field_ids:
        return definition
    field_ids = [field["id"] for field in definition["fields"]]
    views = [view | {"visibleFieldIds": field_ids} for view in definition["views"]]
    return definition | {"views": views}
