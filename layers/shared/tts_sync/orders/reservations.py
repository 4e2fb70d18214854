"""Stock held by open TikTok orders: one reservation per (shop, SKU, order), derived from the
order's latest state only, so duplicates and reordering cannot make it drift.

Line items are one unit each; a virtual bundle line (`combined_listing_skus`) holds its
components times `sku_count`; gifts and samples are stock like any other line.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from tts_sync.orders.models import OrderRecord
from tts_sync.tiktok.models import OrderStatus

SHIPPED_LINE_STATUSES = frozenset(
    {
        OrderStatus.AWAITING_COLLECTION,
        OrderStatus.IN_TRANSIT,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
    }
)


class ReservationState(StrEnum):
    NONE = "none"  # UNPAID: nothing reserved yet
    HELD = "held"  # ON_HOLD, AWAITING_SHIPMENT, unshipped lines of PARTIALLY_SHIPPING
    CONSUMED = "consumed"  # shipped: the units left the warehouse
    RELEASED = "released"  # CANCELLED: the units are for sale again


HELD_STATUSES = frozenset(
    {OrderStatus.ON_HOLD, OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTIALLY_SHIPPING}
)


def reservation_state(status: str) -> ReservationState:
    if status == OrderStatus.UNPAID:
        return ReservationState.NONE
    if status == OrderStatus.CANCELLED:
        return ReservationState.RELEASED
    if status in SHIPPED_LINE_STATUSES:
        return ReservationState.CONSUMED
    # ON_HOLD, AWAITING_SHIPMENT, PARTIALLY_SHIPPING, and any status TikTok adds: holding
    # too much for a while is safe, holding too little oversells.
    return ReservationState.HELD


class Reservation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shop_id: str
    sku_id: str
    order_id: str
    state: ReservationState
    units: int  # held units (0 unless HELD)
    ordered_units: int  # units of this SKU in the order, whatever the state
    ordered_at: int  # the order's create_time: the export subtracts units ordered after as_of
    order_status: str
    order_update_time: int


def units_by_sku(record: OrderRecord, *, unshipped_only: bool = False) -> Counter[str]:
    units: Counter[str] = Counter()
    for line in record.line_items:
        if unshipped_only and line.display_status in SHIPPED_LINE_STATUSES:
            continue
        if line.display_status == OrderStatus.CANCELLED and record.status != "CANCELLED":
            continue  # a line cancelled on its own while the rest of the order goes on
        if line.combined_listing_skus:
            for component in line.combined_listing_skus:
                units[component.sku_id] += component.sku_count
        else:
            units[line.sku_id] += 1
    return units


def reservations_for(
    record: OrderRecord, also_skus: set[str] | frozenset[str] = frozenset()
) -> list[Reservation]:
    """One reservation per SKU the order has (and per SKU in `also_skus`, e.g. ones a previous
    state had, so they are zeroed rather than left holding units)."""
    state = reservation_state(record.status)
    ordered = units_by_sku(record)
    held = (
        units_by_sku(record, unshipped_only=record.status == OrderStatus.PARTIALLY_SHIPPING)
        if state is ReservationState.HELD
        else Counter()
    )
    return [
        Reservation(
            shop_id=record.shop_id,
            sku_id=sku_id,
            order_id=record.order_id,
            state=state if ordered.get(sku_id) else ReservationState.RELEASED,
            units=held.get(sku_id, 0),
            ordered_units=ordered.get(sku_id, 0),
            ordered_at=record.create_time,
            order_status=record.status,
            order_update_time=record.update_time,
        )
        for sku_id in sorted(set(ordered) | set(also_skus))
    ]


def reservation_changes(previous: OrderRecord | None, new: OrderRecord) -> list[Reservation]:
    """The reservations to write when `new` replaces `previous`: only those that differ."""
    before = {r.sku_id: r for r in reservations_for(previous)} if previous else {}
    after = reservations_for(new, also_skus=set(before))
    return [r for r in after if _differs(before.get(r.sku_id), r)]


def _differs(old: Reservation | None, new: Reservation) -> bool:
    if old is None:
        return new.state is not ReservationState.NONE or new.units != 0
    # The order's status rides along so the ledger says why units are held.
    return (old.state, old.units, old.ordered_units, old.order_status) != (
        new.state,
        new.units,
        new.ordered_units,
        new.order_status,
    )
