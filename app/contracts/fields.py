"""Field types shared by the standard schema v1 entities."""

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)


class SourcePlatform(StrEnum):
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    CUSTOM = "custom"


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


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
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    BeforeValidator(_upper),
    Field(description="ISO 3166-1 alpha-2 country code.", examples=["DE"]),
]
CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    BeforeValidator(_upper),
    Field(description="ISO 4217 currency code.", examples=["EUR"]),
]
DecimalString = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"),
    AfterValidator(lambda value: str(Decimal(value))),
    Field(description="A decimal number as a string (never a float).", examples=["49.90"]),
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
        description="Custom fields that have no standard field: name → string, number or boolean.",
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
