"""Airtable's errors as domain data: an HTTP status, Airtable's `type` and a message.
The transport renders them as `{"error": {"type": ..., "message": ...}}`."""

from dataclasses import dataclass

NOT_FOUND_MESSAGE = (
    "Invalid permissions, or the requested model was not found. Check that both your user and "
    "your token have the required permissions, and that the model names and/or ids are correct."
)


@dataclass
class AirtableError(Exception):
    status: int
    type: str
    message: str

    def __str__(self) -> str:
        return f"{self.status} {self.type}: {self.message}"


def authentication_required() -> AirtableError:
    return AirtableError(401, "AUTHENTICATION_REQUIRED", "Authentication required")


def model_not_found() -> AirtableError:
    """What a missing base or table and another client's base both look like (no leak)."""
    return AirtableError(403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", NOT_FOUND_MESSAGE)


def record_not_found() -> AirtableError:
    return AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")


def rate_limited() -> AirtableError:
    return AirtableError(
        429,
        "RATE_LIMIT_REACHED",
        "Rate limit exceeded. Please try again later",
    )


def invalid_request(message: str) -> AirtableError:
    return AirtableError(422, "INVALID_REQUEST_UNKNOWN", f"Invalid request: {message}")


def invalid_records(message: str) -> AirtableError:
    return AirtableError(422, "INVALID_RECORDS", message)


def unknown_field(name: str) -> AirtableError:
    return AirtableError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')


def invalid_value(field_name: str, detail: str) -> AirtableError:
    return AirtableError(
        422,
        "INVALID_VALUE_FOR_COLUMN",
        f'Field "{field_name}" cannot accept the provided value: {detail}',
    )


def invalid_choice(option: str) -> AirtableError:
    return AirtableError(
        422,
        "INVALID_MULTIPLE_CHOICE_OPTIONS",
        f'Insufficient permissions to create new select option ""{option}""',
    )


def row_does_not_exist(record_id: str) -> AirtableError:
    return AirtableError(
        422, "ROW_DOES_NOT_EXIST", f"Record ID {record_id} does not exist in this table"
    )


def invalid_formula(detail: str) -> AirtableError:
    return AirtableError(
        422,
        "INVALID_FILTER_BY_FORMULA",
        f"The formula for filtering records is invalid: {detail}",
    )


def iterator_not_available() -> AirtableError:
    return AirtableError(422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", "Iterator not available")


def invalid_schema(type_: str, message: str) -> AirtableError:
    """Metadata writes: DUPLICATE_OR_EMPTY_FIELD_NAME, INVALID_FIELD_TYPE and the like."""
    return AirtableError(422, type_, message)


def request_too_large() -> AirtableError:
    return AirtableError(413, "REQUEST_TOO_LARGE", "The request body is too large")
