"""Cell values written through the records API: checked per field type as Airtable does, with
`typecast` conversions, and stored in the shape Airtable reads them back in. Empty values
(None, "", [], false) are not stored, so they are omitted from responses."""

import mimetypes
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlparse

from app.sandbox.airtable.errors import invalid_choice, invalid_value
from app.sandbox.airtable.ids import airtable_time, is_airtable_id, new_airtable_id
from app.sandbox.airtable.schema import TEXT_TYPES, Json, new_choice


class CellWriter:
    """Writes the cells of one request; with typecast, unknown select options become choices
    of the field (the table definition is then changed: see `choices_added`)."""

    def __init__(self, typecast: bool) -> None:
        self.typecast = typecast
        self.choices_added = False

    def write(self, field: Json, value: Any, current: Any) -> Any:
        """The stored value, or None for an empty cell."""
        if value is None or value == "" or value == [] or value is False:
            return None
        return _WRITERS[field["type"]](self, field, value, current)

    def choice(self, field: Json, value: Any) -> str:
        if not isinstance(value, str) and not self.typecast:
            raise invalid_value(field["name"], "a select option is a string")
        name = str(value)
        choices: list[Json] = field["options"]["choices"]
        if any(choice["name"] == name for choice in choices):
            return name
        if not self.typecast:
            raise invalid_choice(name)
        choices.append(new_choice(name))
        self.choices_added = True
        return name


def _text(writer: CellWriter, field: Json, value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if writer.typecast and isinstance(value, int | float | bool):
        return str(value)
    raise invalid_value(field["name"], "expected a string")


def _number(writer: CellWriter, field: Json, value: Any, _: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if writer.typecast and isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            pass
    raise invalid_value(field["name"], "expected a number")


def _checkbox(writer: CellWriter, field: Json, value: Any, _: Any) -> bool | None:
    if value is True:
        return True
    if writer.typecast and isinstance(value, str | int | float):
        return True if str(value).strip().lower() not in ("", "0", "false", "no") else None
    raise invalid_value(field["name"], "expected true or false")


def _single_select(writer: CellWriter, field: Json, value: Any, _: Any) -> str:
    return writer.choice(field, value)


def _multiple_selects(writer: CellWriter, field: Json, value: Any, _: Any) -> list[str]:
    if writer.typecast and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise invalid_value(field["name"], "expected an array of option names")
    names: list[str] = []
    for name in (writer.choice(field, item) for item in value):
        if name not in names:
            names.append(name)
    return names


def _parse_moment(field: Json, value: Any) -> datetime:
    if not isinstance(value, str):
        raise invalid_value(field["name"], "expected an ISO 8601 date")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_value(field["name"], f"{value!r} is not an ISO 8601 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date(_: CellWriter, field: Json, value: Any, __: Any) -> str:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    return _parse_moment(field, value).astimezone(UTC).date().isoformat()


def _date_time(_: CellWriter, field: Json, value: Any, __: Any) -> str:
    return airtable_time(_parse_moment(field, value))


def _attachment(field: Json, item: Any, kept: dict[str, Json]) -> Json:
    if isinstance(item, dict) and item.get("id") in kept and "url" not in item:
        return kept[item["id"]]
    url = item.get("url") if isinstance(item, dict) else None
    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https"):
        raise invalid_value(field["name"], "an attachment is {url, filename?} with an http(s) url")
    filename = item.get("filename") or urlparse(url).path.rsplit("/", 1)[-1] or "file"
    kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return {"id": new_airtable_id("att"), "url": url, "filename": filename, "size": 0, "type": kind}


def _attachments(_: CellWriter, field: Json, value: Any, current: Any) -> list[Json]:
    if not isinstance(value, list):
        raise invalid_value(field["name"], "expected an array of attachments")
    kept = {item["id"]: item for item in current or []}
    return [_attachment(field, item, kept) for item in value]


def _links(_: CellWriter, field: Json, value: Any, __: Any) -> list[str]:
    if not isinstance(value, list) or not all(is_airtable_id(item, "rec") for item in value):
        raise invalid_value(field["name"], "expected an array of record ids")
    return list(dict.fromkeys(value))


# A string written to these is stored unchanged (an empty one empties the cell).
STORED_AS_WRITTEN = TEXT_TYPES | {"singleSelect"}

Writer = Callable[[CellWriter, Json, Any, Any], Any]
_WRITERS: dict[str, Writer] = {
    **dict.fromkeys(TEXT_TYPES, _text),
    "number": _number,
    "percent": _number,
    "currency": _number,
    "checkbox": _checkbox,
    "singleSelect": _single_select,
    "multipleSelects": _multiple_selects,
    "date": _date,
    "dateTime": _date_time,
    "multipleAttachments": _attachments,
    "multipleRecordLinks": _links,
}
