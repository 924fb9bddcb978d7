"""Validating one raw record against the standard schema: a canonical dict or field errors."""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from app.contracts.entities import ENTITY_MODELS, Entity
from app.contracts.fields import RecordBase
from app.errors import FieldError
from app.exact_json import wide_integer_paths
from app.rules.engine import RuleSet

# pydantic error type → our stable error code
_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "enum": "invalid_enum",
    "literal_error": "invalid_enum",
    "string_pattern_mismatch": "invalid_format",
    "string_too_short": "invalid_length",
    "string_too_long": "invalid_length",
    "too_short": "invalid_length",
    "too_long": "invalid_length",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "int_parsing_size": "out_of_range",
    "timezone_aware": "invalid_format",
    "json_invalid": "invalid_json",
    "model_type": "invalid_type",
    "model_attributes_type": "invalid_type",
}
_TYPE_SUFFIXES = ("_type", "_parsing")
OVERSIZED_INTEGER = (
    "Integer out of range: integers are at most 64 bits (send a longer numeric id as a string)."
)
# pydantic error type → our message, where pydantic's own words would mislead
_MESSAGES = {"int_parsing_size": OVERSIZED_INTEGER}


@dataclass(frozen=True)
class ValidRecord:
    external_id: str
    source_platform: str
    source_updated_at: datetime
    data: dict[str, Any]
    content_hash: str


def error_code(pydantic_type: str) -> str:
    if pydantic_type in _CODES:
        return _CODES[pydantic_type]
    if pydantic_type.endswith(_TYPE_SUFFIXES):
        return "invalid_type"
    return pydantic_type  # rule-specific codes raised by the contract models themselves


def _message(code: str, path: tuple[str | int, ...], pydantic_message: str) -> str:
    name = str(path[-1]) if path else "record"
    if code == "unknown_field":
        return f"Unknown field '{name}': not in the standard schema; put custom data in attributes."
    if code == "required":
        return f"'{name}' is required."
    if name == "amount" and code == "invalid_type":
        return 'amount must be a decimal string such as "49.90", never a JSON number.'
    if pydantic_message == "Input should have timezone info":
        return f"'{name}' needs an offset or Z (RFC 3339), e.g. 2026-11-01T10:00:00Z."
    if code == "invalid_type" and not path:
        return "Each record must be a JSON object."
    return pydantic_message


def field_errors(error: ValidationError) -> list[FieldError]:
    found = []
    for detail in error.errors(include_url=False, include_input=False):
        path = tuple(detail["loc"]) or tuple(detail.get("ctx", {}).get("field", ()))
        code = error_code(detail["type"])
        message = _MESSAGES.get(detail["type"]) or _message(code, path, detail["msg"])
        found.append(FieldError(code, message, path))
    return found


def content_hash(data: dict[str, Any]) -> str:
    """Hash of what the record says, not of when it said it."""
    content = dict(data)  # a copy in C: cheaper than a comprehension; keys are sorted below
    content.pop("source_updated_at", None)
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def validate_record(
    entity: Entity, payload: str | bytes, rules: RuleSet | None = None
) -> ValidRecord | list[FieldError]:
    """The contract first; the rules (when given) then check what the contract accepted."""
    model = ENTITY_MODELS[entity]
    try:  # what model_validate_json and model_dump call, without their wrappers (per record)
        record: RecordBase = model.__pydantic_validator__.validate_json(payload)
    except ValidationError as error:
        return field_errors(error)
    data = model.__pydantic_serializer__.to_python(record, mode="json", exclude_none=True)
    if rules is not None:
        violations = rules.violations(data)
        if violations:
            return list(violations)
    try:
        digest = content_hash(data)
    except TypeError:  # orjson takes integers of 64 bits at most; the contract's int has no bound
        oversized = [
            FieldError("out_of_range", OVERSIZED_INTEGER, path) for path in wide_integer_paths(data)
        ]
        if not oversized:
            raise
        return oversized
    # the platform as serialised: the same text as the enum's value, without its property call
    return ValidRecord(
        record.external_id, data["source_platform"], record.source_updated_at, data, digest
    )


def external_id_of(payload: str | bytes) -> str | None:
    """Best effort, for error reports on records too broken to validate."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    external_id = value.get("external_id") if isinstance(value, dict) else None
    return external_id if isinstance(external_id, str) else None
