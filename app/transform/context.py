"""What a transform may know besides the value: the client's defaults and the whole record."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any


@dataclass(frozen=True)
class ClientDefaults:
    """Per-client settings that fill what platforms leave out."""

    currency: str | None = None  # ISO 4217, for platforms without a currency on the record
    timezone: tzinfo = UTC  # for offset-less local date strings
    region: str | None = None  # ISO 3166-1 alpha-2, for national phone numbers


@dataclass(slots=True)  # not frozen: made for every record, and a frozen init costs twice
class Scope:
    defaults: ClientDefaults = field(default_factory=ClientDefaults)
    record: Mapping[str, Any] = field(default_factory=dict)
    # What a transform derived from the whole record once, for its other calls on the record
    # (e.g. the product's option names, for each variant).
    memo: dict[Any, Any] = field(default_factory=dict)
