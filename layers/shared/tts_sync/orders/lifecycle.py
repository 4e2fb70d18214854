"""Which order state wins, what changed, and which domain events a change is.

Monotonic by TikTok's `update_time` (a status clock); equal times tie-break by status
progression; an equal time and status with different content (an address edit does not move
`update_time`) wins only if it was read from TikTok later, and a search result (poll, backfill)
never over a detail read. Pure functions: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tts_sync.orders.models import OrderRecord, OrderSource
from tts_sync.outbound import OrderEventType
from tts_sync.tiktok.models import OrderStatus

# Status progression for ties at one update_time. Unknown statuses rank lowest: stored when
# newer by time, never preferred to a known status at the same time.
STATUS_RANK: dict[str, int] = {
    OrderStatus.UNPAID: 10,
    OrderStatus.ON_HOLD: 20,
    OrderStatus.AWAITING_SHIPMENT: 30,
    OrderStatus.PARTIALLY_SHIPPING: 40,
    OrderStatus.AWAITING_COLLECTION: 50,
    OrderStatus.IN_TRANSIT: 60,
    OrderStatus.DELIVERED: 70,
    OrderStatus.COMPLETED: 80,
    OrderStatus.CANCELLED: 90,
}
UNKNOWN_STATUS_RANK = 0


class Stage(Enum):
    """What the back office cares about (a production connector's mapping, section 4)."""

    AWAITING_PAYMENT = "awaiting_payment"
    ON_HOLD = "on_hold"
    READY_TO_SHIP = "ready_to_ship"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


STAGE_BY_STATUS: dict[str, Stage] = {
    OrderStatus.UNPAID: Stage.AWAITING_PAYMENT,
    OrderStatus.ON_HOLD: Stage.ON_HOLD,
    OrderStatus.AWAITING_SHIPMENT: Stage.READY_TO_SHIP,
    OrderStatus.PARTIALLY_SHIPPING: Stage.READY_TO_SHIP,
    OrderStatus.AWAITING_COLLECTION: Stage.SHIPPED,
    OrderStatus.IN_TRANSIT: Stage.SHIPPED,
    OrderStatus.DELIVERED: Stage.DELIVERED,
    OrderStatus.COMPLETED: Stage.DELIVERED,
    OrderStatus.CANCELLED: Stage.CANCELLED,
}
EVENT_BY_STAGE: dict[Stage, OrderEventType] = {
    Stage.ON_HOLD: OrderEventType.ON_HOLD,
    Stage.READY_TO_SHIP: OrderEventType.READY_TO_SHIP,
    Stage.SHIPPED: OrderEventType.SHIPPED,
    Stage.DELIVERED: OrderEventType.DELIVERED,
    Stage.CANCELLED: OrderEventType.CANCELLED,
}
# The parts of a record a change is reported by (OrderEventDetail.changes).
TRACKED_PARTS = (
    "status",
    "recipient_address",
    "packages",
    "line_items",
    "deadlines",
    "payment",
    "cancellation",
    "warehouse_id",
    "delivery_option_id",
)


def status_rank(status: str) -> int:
    return STATUS_RANK.get(status, UNKNOWN_STATUS_RANK)


def stage(status: str) -> Stage:
    return STAGE_BY_STATUS.get(status, Stage.UNKNOWN)


def is_newer(incoming: OrderRecord, current: OrderRecord | None) -> bool:
    """Whether `incoming` replaces `current` (False for the same state: a no-op)."""
    if current is None:
        return True
    if incoming.update_time != current.update_time:
        return incoming.update_time > current.update_time
    incoming_rank, current_rank = status_rank(incoming.status), status_rank(current.status)
    if incoming_rank != current_rank:
        return incoming_rank > current_rank
    if incoming.content_hash == current.content_hash:
        return False
    if _from_search(incoming) and not _from_search(current):
        # Order search reads an index that can lag Get Order Detail: at one update_time a
        # search result never undoes what a detail read saw, however much later it came.
        return False
    # Same status clock, other content (address edit, package split): the later read wins.
    return incoming.fetched_at_ms > current.fetched_at_ms


def _from_search(record: OrderRecord) -> bool:
    return record.source is not OrderSource.WEBHOOK  # the poll and backfills search


def changed_parts(previous: OrderRecord | None, new: OrderRecord) -> list[str]:
    if previous is None:
        return ["created"]
    changed = []
    for part in TRACKED_PARTS:
        if part == "recipient_address":
            if previous.buyer.recipient_address != new.buyer.recipient_address:
                changed.append(part)
        elif getattr(previous, part) != getattr(new, part):
            changed.append(part)
    return changed


@dataclass(frozen=True)
class OrderChange:
    """A state that replaced the stored one: what changed and the domain events it is."""

    previous: OrderRecord | None
    record: OrderRecord
    changes: list[str]
    events: list[OrderEventType]


def can_still_ship(status: str) -> bool:
    """Whether the order may still leave for the address it holds: known statuses up to and
    including AWAITING_COLLECTION (the carrier has yet to collect). Not once in transit,
    delivered, completed or cancelled, and not for statuses we do not know."""
    rank = status_rank(status)
    return UNKNOWN_STATUS_RANK < rank <= STATUS_RANK[OrderStatus.AWAITING_COLLECTION]


def describe_change(previous: OrderRecord | None, new: OrderRecord) -> OrderChange:
    changes = changed_parts(previous, new)
    events: list[OrderEventType] = []
    if previous is None:
        events.append(OrderEventType.CREATED)
    previous_stage = stage(previous.status) if previous else None
    new_stage = stage(new.status)
    if new_stage != previous_stage and new_stage in EVENT_BY_STAGE:
        already_announced = new_stage is Stage.SHIPPED and bool(new.shipments)
        # A shipment tts-sync uploaded was announced then ("Order Shipped" with its tracking,
        # tts_sync.fulfilment): TikTok catching up is not a second shipment.
        if not already_announced:
            events.append(EVENT_BY_STAGE[new_stage])
    if (
        previous is not None
        and "recipient_address" in changes
        and new.buyer.recipient_address is not None  # an address removed is nothing to ship to
        and can_still_ship(new.status)
        # READY_TO_SHIP carries the address itself: an address appearing as the hold ends is
        # "ready to ship", not an edit.
        and OrderEventType.READY_TO_SHIP not in events
    ):
        # An edit, or the first address of an order already ready to ship (None -> address).
        events.append(OrderEventType.ADDRESS_CHANGED)
    return OrderChange(previous, new, changes, events)
