"""Dates and times from every shape the platforms send → an aware UTC datetime.

Accepted: ISO 8601 with an offset or `Z` (also Salesforce's `+0000`), offset-less local strings
(read in the client's timezone), date-only strings (midnight there), RFC 2822 / HTTP dates and a
trailing `GMT`/`UTC`, epoch seconds or milliseconds (int, float or numeric string, told apart by
magnitude: |n| ≥ 10^11 is milliseconds, i.e. seconds after the year 5138 or milliseconds after
March 1973), and datetime objects.
"""

import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

from app.transform.errors import NormalisationError

EPOCH_MS_THRESHOLD = 10**11
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

_NUMERIC = re.compile(r"^[+-]?\d+(\.\d+)?$")
_ZULU_WORD = re.compile(r"\s*(?:GMT|UTC)$", re.IGNORECASE)
_RFC2822 = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s")


def _invalid(value: object, why: str) -> NormalisationError:
    return NormalisationError("invalid_date", f"{value!r} is not a usable date: {why}.")


def _out_of_range(original: object) -> NormalisationError:
    return _invalid(original, f"outside {EARLIEST.year} to {LATEST.year - 1}")


def _in_range(moment: datetime, original: object) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise _out_of_range(original)
    return moment


def _epoch_seconds(number: Decimal) -> Decimal:
    return number / 1000 if abs(number) >= EPOCH_MS_THRESHOLD else number


def _from_epoch(seconds: Decimal, original: object) -> datetime:
    try:
        moment = datetime.fromtimestamp(float(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        raise _invalid(original, "epoch value out of range") from None
    return _in_range(moment, original)


def _localise(moment: datetime, default_tz: tzinfo, original: object) -> datetime:
    """Offset-less values are wall-clock time in the client's zone (fold=0 when ambiguous)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_tz)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00: before year 1 once in UTC
        raise _out_of_range(original) from None


def _parse_text(text: str, default_tz: tzinfo) -> datetime:
    if len(text) >= 10 and text[4] == "-" and text[:4].isdigit():  # ISO 8601, the usual case
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass  # e.g. a trailing GMT: the general path below
        else:
            return _localise(parsed, default_tz, text)
    if _NUMERIC.match(text):
        return _from_epoch(_epoch_seconds(Decimal(text)), text)
    if _RFC2822.match(text):
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise _invalid(text, "not a valid RFC 2822 date") from None
        return _localise(parsed, UTC, text)
    iso = _ZULU_WORD.sub("+00:00", text)
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise _invalid(text, "expected ISO 8601, RFC 2822 or epoch seconds/milliseconds") from None
    return _localise(parsed, default_tz, text)


def rfc3339_of_iso_with_offset(text: str) -> str | None:
    """The usual value's way, each step once: an ISO 8601 string with an offset or `Z` (so no
    zone to apply), in range → its RFC 3339 form. None for anything else, which goes the
    general way (`parse_datetime`), errors included. A string fromisoformat reads with an
    offset is neither a number nor an RFC 2822 date, so `_parse_text` reads it the same way."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # the general way says so
        return None
    return format_rfc3339(moment) if EARLIEST <= moment < LATEST else None


def parse_datetime(value: object, default_tz: tzinfo = UTC) -> datetime:
    """Any accepted date shape → an aware datetime in UTC, or NormalisationError."""
    if isinstance(value, str):  # the usual case first
        text = value.strip()
        if text:
            return _in_range(_parse_text(text, default_tz), value)
    elif isinstance(value, bool):
        raise _invalid(value, "a boolean is not a date")
    elif isinstance(value, datetime):
        return _in_range(_localise(value, default_tz, value), value)
    elif isinstance(value, date):
        midnight = datetime(value.year, value.month, value.day)
        return _in_range(_localise(midnight, default_tz, value), value)
    elif isinstance(value, (int, float, Decimal)):  # a tuple: a union would be built per call
        try:
            return _from_epoch(_epoch_seconds(Decimal(str(value))), value)
        except InvalidOperation:
            raise _invalid(value, "not a finite number") from None
    raise _invalid(value, "expected a date string, epoch number or datetime")


def parse_epoch_ms(value: object) -> datetime:
    """Strictly epoch milliseconds (HubSpot date properties), whatever the magnitude."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _invalid(value, "expected epoch milliseconds")
    text = str(value).strip()
    if not _NUMERIC.match(text):
        raise _invalid(value, "expected epoch milliseconds")
    return _from_epoch(Decimal(text) / 1000, value)


# Two-digit fields from a table: %-formatting six integers costs twice as much.
_TWO_DIGITS = tuple(f"{number:02d}" for number in range(100))


def format_rfc3339(moment: datetime) -> str:
    """UTC, `Z`, and only the sub-second precision the value has: 10:00:00Z, 10:00:00.120Z."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    year, two = moment.year, _TWO_DIGITS
    text = (
        f"{year if year >= 1000 else f'{year:04d}'}-{two[moment.month]}-{two[moment.day]}"
        f"T{two[moment.hour]}:{two[moment.minute]}:{two[moment.second]}"
    )
    micro = moment.microsecond
    if micro == 0:
        return text + "Z"
    if micro % 1000 == 0:
        return f"{text}.{micro // 1000:03d}Z"
    return f"{text}.{micro:06d}Z"
