"""Pydantic models of what the client sends and returns.

Response models ignore unknown fields (TikTok adds fields without notice) and keep every id a
string. Buyer PII (recipient address) is modelled because fulfilment needs it; never log it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    # hide_input_in_errors: orders carry buyer PII, and a ValidationError's text (logged by
    # logger.exception) would otherwise quote the values it refused.
    # defer_build: each model's validator is built on its first use, not at import; a function
    # uses a few of these thirty models, and building all of them was its biggest import cost.
    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        hide_input_in_errors=True,
        defer_build=True,
    )


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


class DistrictInfo(_Model):
    address_level_name: str = ""
    address_name: str = ""
    address_level: str = ""


class RecipientAddress(_Model):
    """Buyer PII: absent (or empty) while UNPAID or ON_HOLD."""

    name: str = ""
    first_name: str = ""
    last_name: str = ""
    phone_number: str = ""
    full_address: str = ""
    address_detail: str = ""
    address_line1: str = ""
    address_line2: str = ""
    address_line3: str = ""
    address_line4: str = ""
    postal_code: str = ""
    region_code: str = ""
    district_info: list[DistrictInfo] = Field(default_factory=list)


class CombinedListingSku(_Model):
    """A component of a virtual bundle line: stock moves on the components."""

    sku_id: str
    product_id: str = ""
    seller_sku: str = ""
    sku_count: int = 1

    _ids = field_validator("sku_id", "product_id", mode="before")(_as_str)


class ItemTax(_Model):
    tax_type: str = ""
    tax_amount: str = ""
    tax_rate: str = ""


class OrderLineItem(_Model):
    """One unit: TikTok has no quantity on line items."""

    id: str
    sku_id: str
    product_id: str = ""
    product_name: str = ""
    sku_name: str = ""
    seller_sku: str = ""
    sale_price: str = ""
    original_price: str = ""
    currency: str = ""
    package_id: str = ""
    package_status: str = ""
    display_status: str = ""
    tracking_number: str = ""
    shipping_provider_id: str = ""
    is_gift: bool = False
    cancel_reason: str = ""
    item_tax: list[ItemTax] = Field(default_factory=list)
    combined_listing_skus: list[CombinedListingSku] = Field(default_factory=list)

    _ids = field_validator(
        "id", "sku_id", "product_id", "package_id", "shipping_provider_id", mode="before"
    )(_as_str)


class OrderPackageRef(_Model):
    id: str

    _ids = field_validator("id", mode="before")(_as_str)


class OrderPayment(_Model):
    """Money as TikTok sends it: decimal strings (never float)."""

    currency: str = ""
    sub_total: str = ""
    shipping_fee: str = ""
    seller_discount: str = ""
    platform_discount: str = ""
    tax: str = ""
    total_amount: str = ""
    original_total_product_price: str = ""
    original_shipping_fee: str = ""
    shipping_fee_seller_discount: str = ""
    shipping_fee_platform_discount: str = ""
    product_tax: str = ""
    shipping_fee_tax: str = ""


class Order(_Model):
    id: str
    status: str
    create_time: int
    update_time: int
    paid_time: int | None = None
    is_on_hold_order: bool = False
    shipping_type: str = ""
    fulfillment_type: str = ""
    warehouse_id: str = ""
    delivery_option_id: str = ""
    delivery_option_name: str = ""
    order_type: str = ""
    is_sample_order: bool = False
    is_replacement_order: bool = False
    is_exchange_order: bool = False
    split_or_combine_tag: str = ""
    has_updated_recipient_address: bool = Field(default=False, repr=False)
    rts_sla_time: int | None = None
    tts_sla_time: int | None = None
    shipping_due_time: int | None = None
    collection_due_time: int | None = None
    delivery_due_time: int | None = None
    cancel_order_sla_time: int | None = None
    rts_time: int | None = None
    collection_time: int | None = None
    delivery_time: int | None = None
    cancel_reason: str = ""
    cancellation_initiator: str = ""
    is_buyer_request_cancel: bool = False
    request_cancel_time: int | None = None
    payment: OrderPayment = Field(default_factory=OrderPayment)
    # Buyer PII (tiktok-shop-api.md section 4): never logged, kept apart in the order record.
    user_id: str = Field(default="", repr=False)
    buyer_email: str = Field(default="", repr=False)
    buyer_message: str = Field(default="", repr=False)
    buyer_nickname: str = Field(default="", repr=False)
    buyer_avatar: str = Field(default="", repr=False)
    cpf: str = Field(default="", repr=False)
    cpf_name: str = Field(default="", repr=False)
    recipient_address: RecipientAddress | None = Field(default=None, repr=False)
    line_items: list[OrderLineItem] = Field(default_factory=list)
    packages: list[OrderPackageRef] = Field(default_factory=list)

    _ids = field_validator("id", "user_id", "warehouse_id", "delivery_option_id", mode="before")(
        _as_str
    )

    @field_validator("status", mode="before")
    @classmethod
    def _normalise_status(cls, value: object) -> object:
        # The type-1 webhook page spells it CANCEL; the Order API says CANCELLED.
        return OrderStatus.CANCELLED.value if value == "CANCEL" else value

    @field_validator(
        "paid_time",
        "rts_sla_time",
        "tts_sla_time",
        "shipping_due_time",
        "collection_due_time",
        "delivery_due_time",
        "cancel_order_sla_time",
        "request_cancel_time",
        "rts_time",
        "collection_time",
        "delivery_time",
        mode="before",
    )
    @classmethod
    def _zero_is_unset(cls, value: object) -> object:
        # TikTok sends 0 (or nothing) for a time that has not happened yet.
        return None if value in (0, "0", "", None) else value

    @field_validator("recipient_address", mode="before")
    @classmethod
    def _empty_address_is_none(cls, value: object) -> object:
        return None if value in ({}, None) else value


class OrderSearchFilter(_Model):
    """Body filters of POST /order/202309/orders/search (unix seconds; *_lt is exclusive)."""

    update_time_ge: int | None = None
    update_time_lt: int | None = None
    create_time_ge: int | None = None
    create_time_lt: int | None = None
    order_status: OrderStatus | None = None


class MalformedOrder(_Model):
    """An order of a reply that did not parse: its id and update time when readable, and what
    was wrong (field paths and pydantic's messages, never the values: they hold buyer PII)."""

    order_id: str = ""
    update_time: int | None = None
    problems: str = ""


class OrderSearchPage(_Model):
    orders: list[Order] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int = 0
    # Orders of the page that did not parse (set by the client, not TikTok's field).
    malformed: list[MalformedOrder] = Field(default_factory=list)


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

    _ids = field_validator("package_id", mode="before")(_as_str)


# ---------------------------------------------------------------- products


class SkuInventory(_Model):
    warehouse_id: str
    quantity: int = 0

    _ids = field_validator("warehouse_id", mode="before")(_as_str)


class ProductSku(_Model):
    id: str
    seller_sku: str = ""
    inventory: list[SkuInventory] = Field(default_factory=list)
    # Some versions carry a SKU-level status (e.g. status_info.status = "LIVE").
    status_info: dict[str, object] = Field(default_factory=dict)

    _ids = field_validator("id", mode="before")(_as_str)

    @property
    def status(self) -> str:
        return str(self.status_info.get("status") or "")


class Product(_Model):
    """A product as Product Search and Get Product Detail return it (the fields we use)."""

    id: str
    title: str = ""
    status: str = ""
    update_time: int = 0
    skus: list[ProductSku] = Field(default_factory=list)

    _ids = field_validator("id", mode="before")(_as_str)


class ProductSearchPage(_Model):
    products: list[Product] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int = 0


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
    # Warehouses named by detail.extra_errors[]: only these failed for the SKU.
    warehouse_ids: list[str] = Field(default_factory=list)


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
