"""Airtable's identifiers (`rec` + 14 alphanumerics) and its timestamp format."""

import re
import secrets
import string
from datetime import UTC, datetime

_ALPHABET = string.ascii_letters + string.digits
_ID_PATTERN = re.compile(r"(app|tbl|fld|rec|viw|wsp|sel|att)[A-Za-z0-9]{14}")


def new_airtable_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(14))


def is_airtable_id(value: object, prefix: str) -> bool:
    return (
        isinstance(value, str) and value.startswith(prefix) and bool(_ID_PATTERN.fullmatch(value))
    )


def airtable_time(moment: datetime) -> str:
    """`2018-01-01T00:00:00.000Z`: UTC, milliseconds, a literal Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
