"""The tracking upload contract (TrackingUploadQueue message bodies), the carrier mapping and
the upload's own records. The message schema is committed under schemas/inbound/
(tts-sync schemas write|check); a unit test fails when it drifts.

    {"shop_id": "7495540735365777507", "order_id": "576653688135258178",
     "carrier": "UPS", "tracking_number": "1Z999AA10123456784",
     "shipped_at": "2026-12-01T15:00:00Z", "line_item_ids": ["576653688135520322"]}

`line_item_ids` (optional) ships part of the order; `package_id` (optional) names the package.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from tts_sync.stock.models import TikTokId

CarrierName = Annotated[str, Field(min_length=1, max_length=128)]
TrackingNumber = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]*$")
]
MAX_LINE_ITEMS = 100


class TrackingUpload(BaseModel):
    """One shipment from the back office: this carrier and tracking number for the order (or
    the named lines, or the named package)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    shop_id: TikTokId
    order_id: TikTokId
    carrier: CarrierName = Field(description="the back office's carrier name (mapped per shop)")
    tracking_number: TrackingNumber
    shipped_at: AwareDatetime = Field(description="when the back office shipped (with a zone)")
    line_item_ids: list[TikTokId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LINE_ITEMS,
        description="ship only these lines of the order (absent: every line not yet shipped)",
    )
    package_id: TikTokId | None = Field(default=None, description="TikTok's package to ship")

    @field_validator("carrier")
    @classmethod
    def _carrier_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("carrier must not be blank")
        return value.strip()

    @field_validator("line_item_ids")
    @classmethod
    def _distinct_lines(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("line_item_ids must not repeat an id")
        return value

    @property
    def shipped_at_epoch(self) -> int:
        return int(self.shipped_at.timestamp())

    @property
    def business_key(self) -> str:
        """(order, package, tracking): the upload's identity, whatever SQS message carries it.
        Without a package id, the lines named (or the whole order) stand for the package."""
        if self.package_id:
            part = f"package:{self.package_id}"
        elif self.line_item_ids:
            lines = ",".join(sorted(self.line_item_ids))
            part = "lines:" + hashlib.sha256(lines.encode()).hexdigest()[:16]
        else:
            part = "order"
        return f"{self.order_id}#{part}#{self.tracking_number}"


def normalise_carrier(name: str) -> str:
    """How carrier names are compared: case, spaces and punctuation do not count."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


class CarrierProvider(BaseModel):
    """One shipping provider TikTok accepts for a delivery option of the shop."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    delivery_option_id: str
    delivery_option_name: str = ""
    shipping_provider_id: str
    name: str


class CarrierOverride(BaseModel):
    """A back-office carrier name TikTok's provider names do not match, mapped by hand (to a
    provider name or id; per delivery option when `delivery_option_id` is set)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    carrier: CarrierName
    shipping_provider_id: TikTokId
    delivery_option_id: str = ""  # "": every delivery option offering that provider


class CarrierMap(BaseModel):
    """A shop's carrier mapping: TikTok's providers per delivery option (built from warehouses
    -> delivery options -> shipping providers) and the overrides."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    shop_id: str
    providers: list[CarrierProvider] = Field(default_factory=list)
    overrides: list[CarrierOverride] = Field(default_factory=list)
    built_at: int | None = None  # unix seconds


class FulfilmentSettings(BaseModel):
    """A shop's choices for tracking uploads."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    # Ship although the buyer asked to cancel (TikTok then rejects the request in the US).
    ship_over_cancellation_request: bool = False


class RefusalCode(StrEnum):
    """Why a tracking upload will not reach TikTok (README: Tracking uploads)."""

    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_SHOP = "unknown_shop"
    UNKNOWN_ORDER = "unknown_order"
    TIKTOK_SHIPPING = "tiktok_shipping"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_UNPAID = "order_unpaid"
    ORDER_ON_HOLD = "order_on_hold"  # retryable: the hold ends within the hour
    CANCELLATION_REQUESTED = "cancellation_requested"
    ORDER_NOT_SHIPPABLE = "order_not_shippable"
    UNKNOWN_CARRIER = "unknown_carrier"
    UNKNOWN_LINE_ITEMS = "unknown_line_items"
    UNKNOWN_PACKAGE = "unknown_package"
    PACKAGE_REQUIRED = "package_required"
    PARTIAL_PACKAGE = "partial_package"
    LINE_CANCELLED = "line_cancelled"
    MIXED_SHIPMENT = "mixed_shipment"
    CORRECTION_TOO_LATE = "correction_too_late"
    CORRECTION_WINDOW_UNKNOWN = "correction_window_unknown"
    TIKTOK_REFUSED = "tiktok_refused"


class UploadOutcome(StrEnum):
    UPLOADED = "uploaded"  # TikTok took it (mark shipped, ship package, update shipping info)
    ALREADY_SHIPPED = "already_shipped"  # TikTok already shows this tracking: nothing sent
    DUPLICATE = "duplicate"  # this business key was done before: nothing read or sent
    REFUSED = "refused"  # permanent: recorded with the reason, acknowledged
    RETRY = "retry"  # transient (or on hold): back to the queue, the DLQ after the limit


class Refusal(BaseModel):
    """A tracking upload that will not reach TikTok, and exactly why."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    shop_id: str = ""  # empty when the message was unreadable
    order_id: str = ""
    message_id: str
    code: RefusalCode
    reason: str
    carrier: str = ""
    tracking_number: str = ""
    tiktok_code: int | None = None
    body_excerpt: str = ""
    refused_at: datetime


class UploadClaim(BaseModel):
    """The idempotency record of one business key: in progress (with a lease) or done."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    business_key: str
    status: str  # "in_progress" | "done"
    lease_expires_at: float = 0.0
    outcome: str = ""
    package_id: str = ""
