"""Date transforms: any accepted date shape, or strictly epoch milliseconds → RFC 3339 UTC."""

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from app.transform import normalise as norm
from app.transform.context import Scope
from app.transform.transforms.base import Args


class DateArgs(Args):
    timezone: str | None = Field(
        default=None,
        description="IANA zone for offset-less values; default: the client's timezone.",
        examples=["America/New_York"],
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
    zone = ZoneInfo(args.timezone) if args.timezone else scope.defaults.timezone
    return norm.format_rfc3339(norm.parse_datetime(value, zone))


def epoch_ms(value: Any, args: Args, scope: Scope) -> str:
    return norm.format_rfc3339(norm.parse_epoch_ms(value))
