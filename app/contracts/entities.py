"""Standard schema v1: the four entities partners push. Published as contracts/*.schema.json."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.contracts.fields import (
    ContractModel,
    CountryCode,
    Email,
    ExternalId,
    Money,
    Phone,
    RecordBase,
    ShortText,
    TagList,
    Text,
    Url,
    UtcDateTime,
)

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex SHA-256.")]
ExternalIdList = Annotated[list[ExternalId], Field(max_length=1000)]


class ProductStatus(StrEnum):
    ACTIVE = "active"
    DRAFT = "draft"
    ARCHIVED = "archived"


class ProductImage(ContractModel):
    url: Url
    alt: Text | None = None
    position: NonNegativeInt | None = Field(default=None, description="Display order, 0 first.")


class ProductVariant(ContractModel):
    external_id: ExternalId
    sku: ShortText | None = None
    name: ShortText | None = None
    price: Money | None = None
    options: dict[ShortText, ShortText] = Field(
        default_factory=dict, description='Option name → value, e.g. {"size": "M"}.'
    )
    inventory_quantity: int | None = None


class Product(RecordBase):
    """A sellable item from a product catalog."""

    name: ShortText
    sku: ShortText | None = None
    description: Text | None = Field(default=None, description="Plain text (HTML is reduced).")
    status: ProductStatus | None = None
    price: Money | None = None
    compare_at_price: Money | None = None
    vendor: ShortText | None = None
    categories: TagList = Field(default_factory=list)
    tags: TagList = Field(default_factory=list)
    url: Url | None = None
    images: Annotated[list[ProductImage], Field(max_length=250)] = Field(default_factory=list)
    variants: Annotated[list[ProductVariant], Field(max_length=2000)] = Field(default_factory=list)
    inventory_quantity: int | None = None
    source_created_at: UtcDateTime | None = None


class AssetKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"


INLINE_CONTENT_CHARACTERS = 14_000_000  # an asset's content_base64: about 10 MB of file


class Asset(RecordBase):
    """A media file (image, video, audio or document), by URL or inline content."""

    kind: AssetKind
    source_url: Url | None = None
    content_base64: str | None = Field(
        default=None,
        max_length=INLINE_CONTENT_CHARACTERS,
        description="Inline file content, base64 (up to about 10 MB); instead of source_url.",
    )
    filename: ShortText | None = None
    mime_type: Annotated[str, Field(pattern=r"^[\w.+-]+/[\w.+-]+$")] | None = None
    size_bytes: NonNegativeInt | None = None
    sha256: Sha256Hex | None = None
    title: ShortText | None = None
    alt_text: Text | None = None
    width: PositiveInt | None = None
    height: PositiveInt | None = None
    duration_seconds: Annotated[float, Field(ge=0)] | None = None
    product_external_ids: ExternalIdList = Field(default_factory=list)
    tags: TagList = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.source_url is None) == (self.content_base64 is None):
            raise PydanticCustomError(
                "one_source_required",
                "Give exactly one of source_url or content_base64.",
                {"field": ("source_url",)},
            )
        return self


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class CampaignChannel(StrEnum):
    EMAIL = "email"
    SOCIAL = "social"
    ADS = "ads"
    WEB = "web"
    SMS = "sms"
    OTHER = "other"


class Campaign(RecordBase):
    """A marketing campaign."""

    name: ShortText
    status: CampaignStatus | None = None
    channel: CampaignChannel | None = None
    objective: Text | None = None
    start_at: UtcDateTime | None = None
    end_at: UtcDateTime | None = Field(default=None, description="Not before start_at.")
    budget: Money | None = None
    product_external_ids: ExternalIdList = Field(default_factory=list)
    audience_segments: TagList = Field(default_factory=list)

    @field_validator("end_at")
    @classmethod
    def _ends_after_start(cls, end_at: datetime | None, info: ValidationInfo) -> datetime | None:
        start_at = info.data.get("start_at")
        if start_at and end_at and end_at < start_at:
            raise PydanticCustomError("end_before_start", "end_at must not be before start_at.")
        return end_at


class EmailConsent(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    PENDING = "pending"
    UNKNOWN = "unknown"


class Audience(RecordBase):
    """A person in the client's audience (a contact or customer)."""

    email: Email | None = None
    phone: Phone | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    country: CountryCode | None = None
    city: ShortText | None = None
    lifecycle_stage: ShortText | None = None
    email_consent: EmailConsent | None = None
    consent_updated_at: UtcDateTime | None = None
    segments: TagList = Field(default_factory=list)
    tags: TagList = Field(default_factory=list)

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.email is None and self.phone is None:
            raise PydanticCustomError(
                "email_or_phone_required",
                "Give an email or a phone number (or both).",
                {"field": ("email",)},
            )
        return self


class Entity(StrEnum):
    PRODUCT = "product"
    ASSET = "asset"
    CAMPAIGN = "campaign"
    AUDIENCE = "audience"


ENTITY_MODELS: dict[Entity, type[RecordBase]] = {
    Entity.PRODUCT: Product,
    Entity.ASSET: Asset,
    Entity.CAMPAIGN: Campaign,
    Entity.AUDIENCE: Audience,
}

EXAMPLES: dict[Entity, dict[str, Any]] = {
    Entity.PRODUCT: {
        "external_id": "8072389472",
        "source_platform": "shopify",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "name": "Linen Shirt",
        "sku": "LS-001",
        "status": "active",
        "price": {"amount": "49.90", "currency": "EUR"},
        "tags": ["summer", "linen"],
        "images": [{"url": "https://cdn.example.com/ls-001.jpg", "alt": "Front", "position": 0}],
        "variants": [
            {
                "external_id": "44012",
                "sku": "LS-001-M",
                "name": "M",
                "price": {"amount": "49.90", "currency": "EUR"},
                "options": {"size": "M"},
                "inventory_quantity": 12,
            }
        ],
        "attributes": {"material": "linen"},
    },
    Entity.ASSET: {
        "external_id": "img-771",
        "source_platform": "custom",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "kind": "image",
        "source_url": "https://cdn.example.com/ls-001.jpg",
        "mime_type": "image/jpeg",
        "width": 1200,
        "height": 1600,
        "product_external_ids": ["8072389472"],
    },
    Entity.CAMPAIGN: {
        "external_id": "cmp-2026-summer",
        "source_platform": "hubspot",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "name": "Summer launch",
        "status": "scheduled",
        "channel": "email",
        "start_at": "2026-12-01T08:00:00Z",
        "end_at": "2026-12-31T20:00:00Z",
        "budget": {"amount": "2500.00", "currency": "EUR"},
    },
    Entity.AUDIENCE: {
        "external_id": "51",
        "source_platform": "hubspot",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "email": "ana@example.com",
        "first_name": "Ana",
        "country": "PT",
        "email_consent": "subscribed",
    },
}
