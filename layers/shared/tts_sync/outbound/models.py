"""The outbound contract: domain events tts-sync publishes on its EventBridge bus for the back
office. Versioned (`DETAIL_VERSION`) and committed as JSON schemas under schemas/outbound/.

Conventions: ids are always strings (TikTok's ids overflow JavaScript numbers); money is a
decimal string as TikTok sends it ("12.50"), never a float; times from TikTok stay unix seconds,
`occurred_at` (when tts-sync observed the change) is an ISO 8601 UTC timestamp.

Privacy: only "Order Ready To Ship" and "Order Address Changed" carry `shipping_address` (what
the back office needs to ship); every other event refuses one. No event carries the buyer's
user id, email, nickname, avatar or message: the models have no field for them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

EVENT_SOURCE_ORDERS = "tts-sync.orders"
EVENT_SOURCE_CATALOG = "tts-sync.catalog"
EVENT_SOURCE_PRIVACY = "tts-sync.privacy"
DETAIL_VERSION: Literal["1"] = "1"


class OrderEventType(StrEnum):
    """EventBridge `detail-type` of the order events (source EVENT_SOURCE_ORDERS)."""

    CREATED = "Order Created"
    ON_HOLD = "Order On Hold"
    READY_TO_SHIP = "Order Ready To Ship"
    ADDRESS_CHANGED = "Order Address Changed"
    CANCELLED = "Order Cancelled"
    SHIPPED = "Order Shipped"
    DELIVERED = "Order Delivered"


# `detail-type` of the listing event (source EVENT_SOURCE_CATALOG).
LISTING_STATUS_CHANGED = "Listing Status Changed"

# `detail-type` of the privacy event (source EVENT_SOURCE_PRIVACY): a deletion request is done.
PRIVACY_DELETION_COMPLETED = "Privacy Deletion Completed"

# The only events whose detail may hold the buyer's shipping address.
ADDRESS_EVENT_TYPES = frozenset({OrderEventType.READY_TO_SHIP, OrderEventType.ADDRESS_CHANGED})

# "" (TikTok left it out) or a plain decimal such as "12.50" / "-3".
Money = Annotated[str, Field(pattern=r"^(-?\d+(\.\d+)?)?$")]


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_as_utc)]


class _Contract(BaseModel):
    # Serialised with every field, so the committed schemas mark every field as required.
    # hide_input_in_errors: events carry the shipping address.
    model_config = ConfigDict(
        defer_build=True,
        frozen=True,
        extra="forbid",
        json_schema_serialization_defaults_required=True,
        hide_input_in_errors=True,
    )


class BundleComponent(_Contract):
    """One SKU inside a bundle line: what the warehouse actually picks."""

    sku_id: str
    product_id: str = ""
    seller_sku: str = ""
    units: int


class OutboundLine(_Contract):
    """One order line item (TikTok lists one line per unit; `units` keeps bundles readable)."""

    line_item_id: str
    sku_id: str
    product_id: str = ""
    seller_sku: str = ""
    units: int = 1
    is_gift: bool = False
    display_status: str = ""
    package_id: str = ""
    sale_price: Money = ""
    currency: str = ""
    components: list[BundleComponent] = []


class OutboundPayment(_Contract):
    currency: str = ""
    sub_total: Money = ""
    shipping_fee: Money = ""
    seller_discount: Money = ""
    platform_discount: Money = ""
    tax: Money = ""
    total_amount: Money = ""


class OutboundShipment(_Contract):
    """A shipment tts-sync uploaded to TikTok (tracking uploads): carrier and tracking number
    of one package. Not buyer data."""

    package_id: str = ""
    line_item_ids: list[str] = []
    carrier: str  # the back office's name for it
    shipping_provider_id: str  # TikTok's id the carrier was mapped to
    tracking_number: str
    shipped_at: int  # unix seconds, the back office's time of shipping
    uploaded_at: int  # unix seconds, when TikTok confirmed it
    action: str  # mark_shipped | ship_package | update_shipping_info | already_shipped


class OrderSnapshot(_Contract):
    """The order as tts-sync stored it after the change; no buyer identity (see module doc)."""

    status: str
    update_time: int
    create_time: int
    paid_time: int | None = None
    is_on_hold_order: bool = False
    shipping_type: str = ""
    fulfillment_type: str = ""
    warehouse_id: str = ""
    delivery_option_id: str = ""
    rts_sla_time: int | None = None
    shipping_due_time: int | None = None
    delivery_due_time: int | None = None
    cancel_reason: str = ""
    packages: list[str] = []
    line_items: list[OutboundLine] = []
    payment: OutboundPayment = OutboundPayment()
    shipments: list[OutboundShipment] = []  # uploaded by tts-sync (tracking uploads)


class ShippingAddress(_Contract):
    """Buyer PII: only on "Order Ready To Ship" and "Order Address Changed"; never logged."""

    name: str = ""
    phone_number: str = ""
    full_address: str = ""
    address_lines: list[str] = []
    postal_code: str = ""
    region_code: str = ""


class OrderEventDetail(_Contract):
    """Detail of every order event. `shipping_address` stays None except on "Order Ready To
    Ship" and "Order Address Changed" (OutboundEvent refuses it elsewhere); there is no field
    for the buyer's user id, email, nickname, avatar or message."""

    version: Literal["1"] = DETAIL_VERSION
    event_id: str  # unique per event: the back office deduplicates on it
    shop_id: str
    order_id: str
    occurred_at: UtcDatetime  # when tts-sync observed the change
    previous_status: str | None = None
    changes: list[str]  # what changed: "status", "recipient_address", "packages", ...
    order: OrderSnapshot
    shipping_address: ShippingAddress | None = None


class ListingEventDetail(_Contract):
    """Detail of "Listing Status Changed": a product's listing status on TikTok Shop."""

    version: Literal["1"] = DETAIL_VERSION
    event_id: str
    shop_id: str
    product_id: str
    status: str
    previous_status: str | None = None
    reason: str = ""
    update_time: int | None = None
    occurred_at: UtcDatetime


class PrivacyDeletionDetail(_Contract):
    """Detail of "Privacy Deletion Completed": a deletion request is done (erased, or rejected
    with the reason). No PII: counts per store, never ids of buyers. The back office should
    erase its own copies of the shop's orders named in its request."""

    version: Literal["1"] = DETAIL_VERSION
    event_id: str
    request_id: str
    status: Literal["completed", "rejected"]
    scope: str  # "buyer", "shop", or "" when a refused request named none
    shop_id: str
    received_at: UtcDatetime
    completed_at: UtcDatetime | None = None
    reason: str = ""  # why it was rejected (fields and rules, never the values sent)
    erased: dict[str, int] = {}  # store -> items erased


class OutboundEvent(_Contract):
    """One EventBridge entry: `source`, `detail-type` and its detail. Build it with
    `order_event` / `listing_event`, which pick the source that goes with the detail."""

    source: str
    detail_type: str
    detail: OrderEventDetail | ListingEventDetail | PrivacyDeletionDetail

    @classmethod
    def order_event(cls, event_type: OrderEventType, detail: OrderEventDetail) -> OutboundEvent:
        return cls(source=EVENT_SOURCE_ORDERS, detail_type=str(event_type), detail=detail)

    @classmethod
    def listing_event(cls, detail: ListingEventDetail) -> OutboundEvent:
        return cls(source=EVENT_SOURCE_CATALOG, detail_type=LISTING_STATUS_CHANGED, detail=detail)

    @classmethod
    def privacy_event(cls, detail: PrivacyDeletionDetail) -> OutboundEvent:
        return cls(
            source=EVENT_SOURCE_PRIVACY, detail_type=PRIVACY_DELETION_COMPLETED, detail=detail
        )

    @property
    def event_id(self) -> str:
        return self.detail.event_id

    @model_validator(mode="after")
    def _detail_fits_type(self) -> OutboundEvent:
        if isinstance(self.detail, OrderEventDetail):
            if self.source != EVENT_SOURCE_ORDERS or self.detail_type not in set(OrderEventType):
                raise ValueError(
                    f"an order detail needs source {EVENT_SOURCE_ORDERS!r} and an "
                    "OrderEventType detail_type"
                )
            if self.detail.shipping_address is not None and (
                self.detail_type not in ADDRESS_EVENT_TYPES
            ):
                raise ValueError(f"{self.detail_type!r} must not carry a shipping_address")
        elif isinstance(self.detail, PrivacyDeletionDetail):
            if (
                self.source != EVENT_SOURCE_PRIVACY
                or self.detail_type != PRIVACY_DELETION_COMPLETED
            ):
                raise ValueError(
                    f"a privacy detail needs source {EVENT_SOURCE_PRIVACY!r} and detail_type "
                    f"{PRIVACY_DELETION_COMPLETED!r}"
                )
        elif self.source != EVENT_SOURCE_CATALOG or self.detail_type != LISTING_STATUS_CHANGED:
            raise ValueError(
                f"a listing detail needs source {EVENT_SOURCE_CATALOG!r} and detail_type "
                f"{LISTING_STATUS_CHANGED!r}"
            )
        return self
