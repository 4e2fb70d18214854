"""Pydantic models of what the client sends and returns.

Response models ignore unknown fields (TikTok adds fields without notice) and keep every id a
string. Buyer PII (recipient address) is modelled because fulfilment needs it; never log it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def _as_str(value: object) -> object:
    # Some samples show bare numbers for ids; the API contract is strings.
    return str(value) if isinstance(value, int) else value


class OrderStatus(StrEnum):
    UNPAID = "UNPAID"
    ON_HOLD = "ON_HOLD"
    AWAITING_SHIPMENT = "AWAITING_SHIPMENT"
    AWAITING_COLLECTION = "AWAITING_COLLECTION"
    PARTIALLY_SHIPPING = "PARTIALLY_SHIPPING"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


# ---------------------------------------------------------------- shops and tokens


class AuthorizedShop(_Model):
    id: str
    name: str = ""
    region: str = ""
    cipher: str
    code: str = ""

    _ids = field_validator("id", mode="before")(_as_str)


class AccessToken(_Model):
    """Tokens of one seller; both expiry fields are absolute unix timestamps (seconds)."""

    access_token: str = Field(repr=False)
    access_token_expire_in: int
    refresh_token: str = Field(repr=False)
    refresh_token_expire_in: int
    open_id: str = ""
    seller_name: str = ""
    granted_scopes: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------- orders


class RecipientAddress(_Model):
    name: str = ""
    phone_number: str = ""
    full_address: str = ""
    postal_code: str = ""
    region_code: str = ""


class OrderLineItem(_Model):
    id: str
    sku_id: str
    product_id: str = ""
    seller_sku: str = ""
    sale_price: str = ""
    currency: str = ""
    package_id: str = ""
    display_status: str = ""

    _ids = field_validator("id", "sku_id", "product_id", "package_id", mode="before")(_as_str)


class OrderPackageRef(_Model):
    id: str

    _ids = field_validator("id", mode="before")(_as_str)


class Order(_Model):
    id: str
    status: str
    create_time: int
    update_time: int
    is_on_hold_order: bool = False
    shipping_type: str = ""
    warehouse_id: str = ""
    recipient_address: RecipientAddress | None = Field(default=None, repr=False)
    buyer_email: str = Field(default="", repr=False)
    line_items: list[OrderLineItem] = Field(default_factory=list)
    packages: list[OrderPackageRef] = Field(default_factory=list)

    _ids = field_validator("id", mode="before")(_as_str)

    @field_validator("status", mode="before")
    @classmethod
    def _normalise_status(cls, value: object) -> object:
        # The type-1 webhook page spells it CANCEL; the Order API says CANCELLED.
        return OrderStatus.CANCELLED.value if value == "CANCEL" else value


class OrderSearchFilter(_Model):
    """Body filters of POST /order/202309/orders/search (unix seconds; *_lt is exclusive)."""

    update_time_ge: int | None = None
    update_time_lt: int | None = None
    create_time_ge: int | None = None
    create_time_lt: int | None = None
    order_status: OrderStatus | None = None


class OrderSearchPage(_Model):
    orders: list[Order] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int = 0


# ---------------------------------------------------------------- logistics


class Warehouse(_Model):
    id: str
    name: str = ""
    effect_status: str = ""
    type: str = ""
    sub_type: str = ""
    is_default: bool = False

    _ids = field_validator("id", mode="before")(_as_str)


class DeliveryOption(_Model):
    id: str
    name: str = ""
    type: str = ""

    _ids = field_validator("id", mode="before")(_as_str)


class ShippingProvider(_Model):
    id: str
    name: str = ""

    _ids = field_validator("id", mode="before")(_as_str)


# ---------------------------------------------------------------- fulfilment


class PackageOrderRef(_Model):
    id: str

    _ids = field_validator("id", mode="before")(_as_str)


class PackageDetail(_Model):
    package_id: str = Field(validation_alias=AliasChoices("package_id", "id"))
    package_status: str = ""
    tracking_number: str = ""
    shipping_provider_id: str = ""
    shipping_provider_name: str = ""
    orders: list[PackageOrderRef] = Field(default_factory=list)

    _ids = field_validator("package_id", mode="before")(_as_str)


class ShippedPackage(_Model):
    package_id: str = ""


# ---------------------------------------------------------------- products


class StockLevel(_Model):
    warehouse_id: str
    quantity: int = Field(ge=0)


class SkuStock(_Model):
    """Every warehouse the SKU is stocked in must be listed (TikTok rejects a partial list),
    each once (TikTok rejects a warehouse listed twice)."""

    sku_id: str
    levels: list[StockLevel] = Field(min_length=1)

    @field_validator("levels")
    @classmethod
    def _one_level_per_warehouse(cls, levels: list[StockLevel]) -> list[StockLevel]:
        warehouses = [level.warehouse_id for level in levels]
        repeated = sorted({w for w in warehouses if warehouses.count(w) > 1})
        if repeated:
            raise ValueError(f"warehouse listed twice in one SKU: {', '.join(repeated)}")
        return levels


class SkuPrice(_Model):
    sku_id: str
    amount: str
    currency: str


class ItemError(_Model):
    """One failed item of a call that otherwise answered code 0."""

    code: int
    message: str = ""
    sku_id: str = ""
    warehouse_id: str = ""


class ItemOutcome(_Model):
    """Per-item result of a batch call: code 0 is NOT full success unless `failed` is empty."""

    request_id: str = ""
    succeeded: list[str] = Field(default_factory=list)
    failed: list[ItemError] = Field(default_factory=list)

    @property
    def all_succeeded(self) -> bool:
        return not self.failed


# ---------------------------------------------------------------- event webhooks


class EventWebhook(_Model):
    event_type: str
    address: str
