"""Listing status from PRODUCT_STATUS_CHANGE (type 5) webhooks, kept on the product's catalog
entry, monotonic by TikTok's update_time, with a "Listing Status Changed" event on a real change.

TikTok's statuses: PRODUCT_FIRST_PASS_REVIEW (passed review: approved), PRODUCT_AUDIT_FAILURE
(rejected, with `suspended_reason`), PRODUCT_STATUS_CHANGED (changed after an edit: TikTok
reviews it again). Unknown statuses are stored as they come.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.outbound import EventPublisher, ListingEventDetail, OutboundEvent


class ListingStatus(StrEnum):
    APPROVED = "approved"
    IN_REVIEW = "in_review"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


LISTING_STATUS_BY_TIKTOK: dict[str, ListingStatus] = {
    "PRODUCT_FIRST_PASS_REVIEW": ListingStatus.APPROVED,
    "PRODUCT_STATUS_CHANGED": ListingStatus.IN_REVIEW,
    "PRODUCT_AUDIT_FAILURE": ListingStatus.REJECTED,
}


class Listing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shop_id: str
    product_id: str
    status: ListingStatus
    tiktok_status: str
    reason: str = ""
    update_time: int  # TikTok's, or the webhook's timestamp when data has none


class ListingStore(Protocol):
    def get(self, shop_id: str, product_id: str) -> Listing | None: ...

    def save_if_newer(self, listing: Listing) -> bool:
        """Store unless a listing with a later (or the same) update_time and status is there."""
        ...

    def rejected(self, shop_id: str) -> list[Listing]:
        """Every rejected listing of the shop (one index query)."""
        ...


@dataclass(frozen=True)
class ListingContext:
    store: ListingStore
    publisher: EventPublisher
    clock: Callable[[], float]


def record_listing_status(listing: Listing, context: ListingContext) -> bool:
    """Store the status; publish the change when the listing status moved. False for a
    duplicate or older notification."""
    current = context.store.get(listing.shop_id, listing.product_id)
    if current is not None and (current.update_time, current.tiktok_status) >= (
        listing.update_time,
        listing.tiktok_status,
    ):
        return False
    if current is None or current.status != listing.status or current.reason != listing.reason:
        # Published before the write: a failure between the two re-publishes the same event id
        # on retry (at least once); the other order could lose it.
        context.publisher.publish([_listing_event(listing, current, context.clock())])
    if not context.store.save_if_newer(listing):
        return False
    logger.info(
        "listing status recorded",
        shop_id=listing.shop_id,
        product_id=listing.product_id,
        status=listing.status.value,
        tiktok_status=listing.tiktok_status,
    )
    if listing.status is ListingStatus.REJECTED:
        metrics.add_metric(name="ListingRejected", unit=MetricUnit.Count, value=1)
    return True


def listing_from_webhook(
    shop_id: str, product_id: str, status: str | None, reason: str | None, moment: int
) -> Listing:
    tiktok_status = status or ""
    return Listing(
        shop_id=shop_id,
        product_id=product_id,
        status=LISTING_STATUS_BY_TIKTOK.get(tiktok_status, ListingStatus.UNKNOWN),
        tiktok_status=tiktok_status,
        reason=reason or "",
        update_time=moment,
    )


def _listing_event(listing: Listing, previous: Listing | None, now: float) -> OutboundEvent:
    key = f"{listing.shop_id}|{listing.product_id}|{listing.tiktok_status}|{listing.update_time}"
    return OutboundEvent.listing_event(
        ListingEventDetail(
            event_id=hashlib.sha256(key.encode()).hexdigest()[:32],
            shop_id=listing.shop_id,
            product_id=listing.product_id,
            status=listing.status.value,
            previous_status=previous.status.value if previous else None,
            reason=listing.reason,
            update_time=listing.update_time,
            occurred_at=datetime.fromtimestamp(now, UTC),
        )
    )
