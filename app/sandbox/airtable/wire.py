"""Airtable's request formats: query strings (`fields[]`, `sort[0][field]`, `records[]`) and
JSON bodies, turned into the service's inputs. Malformed input is an AirtableError."""

import re
from collections.abc import Callable
from typing import Any

import orjson
from litestar.datastructures import MultiDict

from app.sandbox.airtable.errors import invalid_request
from app.sandbox.airtable.listing import MAX_PAGE_SIZE, ListQuery, SortSpec
from app.sandbox.airtable.schema import Json
from app.sandbox.airtable.writes import RecordInput, WriteOptions

_SORT_PARAM = re.compile(r"sort\[(\d+)\]\[(field|direction)\]")


def json_body(raw: bytes) -> Json:
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise invalid_request("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise invalid_request("the request body must be a JSON object")
    return body


def _integer(value: Any, name: str, highest: int | None = None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid_request(f"{name} must be an integer") from None
    if number < 1 or (highest is not None and number > highest):
        limit = f"1 to {highest}" if highest else "at least 1"
        raise invalid_request(f"{name} must be {limit}, not {number}")
    return number


def flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _sort_spec(field: Any, direction: Any) -> SortSpec:
    if not isinstance(field, str) or direction not in (None, "asc", "desc"):
        raise invalid_request("sort takes a field and a direction of asc or desc")
    return SortSpec(field, direction == "desc")


def _list_query(
    get: Callable[[str], Any], fields: list[str] | None, sort: list[SortSpec]
) -> ListQuery:
    if get("cellFormat") not in (None, "json"):
        raise invalid_request("the sandbox serves cellFormat=json only")
    formula, offset, view = get("filterByFormula"), get("offset"), get("view")
    if not all(v is None or isinstance(v, str) for v in (formula, offset, view)):
        raise invalid_request("filterByFormula, offset and view are strings")
    return ListQuery(
        page_size=_integer(get("pageSize"), "pageSize", MAX_PAGE_SIZE) or MAX_PAGE_SIZE,
        offset=offset,
        max_records=_integer(get("maxRecords"), "maxRecords"),
        fields=fields,
        sort=sort,
        formula=formula,
        view=view,
        by_field_id=flag(get("returnFieldsByFieldId")),
    )


def list_query_from_params(params: MultiDict[Any]) -> ListQuery:
    sorts: dict[int, dict[str, Any]] = {}
    for key in params:
        if match := _SORT_PARAM.fullmatch(key):
            sorts.setdefault(int(match[1]), {})[match[2]] = params.get(key)
    sort = [_sort_spec(s.get("field"), s.get("direction")) for _, s in sorted(sorts.items())]
    fields = repeated(params, "fields")
    return _list_query(params.get, fields or None, sort)


def list_query_from_body(body: Json) -> ListQuery:
    fields, sort = body.get("fields"), body.get("sort") or []
    if fields is not None and not (
        isinstance(fields, list) and all(isinstance(f, str) for f in fields)
    ):
        raise invalid_request("fields is an array of field names or ids")
    if not isinstance(sort, list) or not all(isinstance(s, dict) for s in sort):
        raise invalid_request("sort is an array of {field, direction}")
    return _list_query(
        body.get, fields, [_sort_spec(s.get("field"), s.get("direction")) for s in sort]
    )


def write_options(body: Json, replace: bool = False) -> WriteOptions:
    upsert = body.get("performUpsert")
    merge_on = None
    if upsert is not None:
        merge_on = upsert.get("fieldsToMergeOn") if isinstance(upsert, dict) else None
        if not isinstance(merge_on, list) or not all(isinstance(n, str) for n in merge_on):
            raise invalid_request("performUpsert.fieldsToMergeOn is an array of field names")
    return WriteOptions(
        typecast=flag(body.get("typecast")),
        by_field_id=flag(body.get("returnFieldsByFieldId")),
        replace=replace,
        merge_on=merge_on,
    )


def _record_input(item: Any, record_id: Any = None) -> RecordInput:
    fields = item.get("fields", {}) if isinstance(item, dict) else None
    if not isinstance(fields, dict):
        raise invalid_request("every record is an object with a fields object")
    record_id = record_id or item.get("id")
    if record_id is not None and not isinstance(record_id, str):
        raise invalid_request("a record id is a string")
    return RecordInput(fields=fields, id=record_id)


def record_inputs(body: Json) -> list[RecordInput]:
    records = body.get("records")
    if not isinstance(records, list):
        raise invalid_request("records must be an array")
    return [_record_input(item) for item in records]


def single_record_input(body: Json, record_id: str | None = None) -> RecordInput:
    return _record_input(body, record_id)


def record_ids_from_params(params: MultiDict[Any]) -> list[str]:
    return repeated(params, "records")


def repeated(params: MultiDict[Any], name: str) -> list[str]:
    """`name[]=a&name[]=b` as Airtable's clients send arrays (plain `name=` is taken too)."""
    return [*params.getall(f"{name}[]", []), *params.getall(name, [])]
