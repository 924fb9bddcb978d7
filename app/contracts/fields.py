"""Field types shared by the standard schema v1 entities."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError


class SourcePlatform(StrEnum):
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    CUSTOM = "custom"


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00, 9999-12-31T23:59:59-01:00
        raise PydanticCustomError(
            "out_of_range", "Date-time out of range: in UTC it falls before year 1 or after 9999."
        ) from None


UtcDateTime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    Field(
        description="RFC 3339 date-time with an offset; stored in UTC.",
        examples=["2026-11-01T10:00:00Z"],
    ),
]

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    Field(description="The source platform's id for this object.", examples=["8072389472"]),
]
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^https?://\S+$"),
    Field(
        description="An absolute http(s) URL.", examples=["https://shop.example.com/p/linen-shirt"]
    ),
]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
    Field(description="An email address; stored lower-cased.", examples=["ana@example.com"]),
]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9][0-9]{6,14}$"),
    Field(description="A phone number in E.164 form.", examples=["+14155550123"]),
]
CountryCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$"),
    Field(description="ISO 3166-1 alpha-2 country code; stored upper-case.", examples=["DE"]),
]
CurrencyCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$"),
    Field(description="ISO 4217 currency code; stored upper-case.", examples=["EUR"]),
]
DecimalString = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?$"),
    Field(
        description="A decimal number as a string (never a float): up to 15 digits before the "
        "point, 6 after, no leading zeros.",
        examples=["49.90"],
    ),
]
TagList = Annotated[
    list[ShortText],
    Field(max_length=200, description="Labels, each 1 to 500 characters."),
]
AttributeValue = str | int | float | bool
Attributes = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], AttributeValue],
    Field(
        max_length=500,
        description="Custom fields that have no standard field: name → string, number or boolean "
        "(integers at most 64 bits: send longer numeric ids as strings).",
        examples=[{"material": "linen", "fit": "relaxed"}],
    ),
]


class ContractModel(BaseModel):
    """Strict about shape: unknown fields are errors (custom data belongs in `attributes`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Money(ContractModel):
    amount: DecimalString
    currency: CurrencyCode


class RecordBase(ContractModel):
    external_id: ExternalId
    source_platform: SourcePlatform = Field(description="Where the record came from.")
    source_updated_at: UtcDateTime = Field(
        description="When the source last changed the record: an older update never overwrites "
        "a newer stored one."
    )
    attributes: Attributes = Field(default_factory=dict)
