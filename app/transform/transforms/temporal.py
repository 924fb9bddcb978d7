"""Date transforms: any accepted date shape, or strictly epoch milliseconds → RFC 3339 UTC."""

import re
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from app.transform import normalise as norm
from app.transform.context import Scope
from app.transform.normalise.dates import rfc3339_of_iso_with_offset
from app.transform.transforms.base import Args

_DATE_ONLY = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")


class DateArgs(Args):
    timezone: str | None = Field(
        default=None,
        description="IANA zone for offset-less values; default: the client's timezone.",
        examples=["America/New_York"],
    )
    date_only: Literal["start_of_day", "end_of_day"] = Field(
        default="start_of_day",
        description="A date without a time is the day's start (00:00), or its end (the next "
        "day's 00:00), e.g. for a campaign's last day.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA timezone {name!r}") from None
        return name


def date(value: Any, args: DateArgs, scope: Scope) -> str:
    if value.__class__ is str and (rendered := rfc3339_of_iso_with_offset(value)):
        return rendered
    zone = ZoneInfo(args.timezone) if args.timezone else scope.defaults.timezone
    moment = norm.parse_datetime(value, zone)
    if args.date_only == "end_of_day" and isinstance(value, str) and _DATE_ONLY.fullmatch(value):
        local = moment.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
        moment = norm.parse_datetime(local, zone)
    return norm.format_rfc3339(moment)


def epoch_ms(value: Any, args: Args, scope: Scope) -> str:
    return norm.format_rfc3339(norm.parse_epoch_ms(value))
