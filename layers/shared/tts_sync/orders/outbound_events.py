"""Order changes as outbound domain events (tts_sync.outbound contracts).

Event ids are derived from the change itself (shop, order, type, TikTok's update time, content),
so two workers that see the same change name it the same way and a back office can deduplicate
on `event_id`. An address change also names the state it replaced (its content hash and the
stored item's revision): an address edit does not move TikTok's update time, so A -> B -> A -> B
are four states at one update time, and the second A -> B is a change of its own. The
shipping address rides only on the events the back office ships from.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from tts_sync.orders.lifecycle import OrderChange
from tts_sync.orders.models import OrderRecord
from tts_sync.outbound import (
    BundleComponent,
    OrderEventDetail,
    OrderEventType,
    OrderSnapshot,
    OutboundEvent,
    OutboundLine,
    OutboundPayment,
    OutboundShipment,
    ShippingAddress,
)

EVENTS_WITH_ADDRESS = frozenset({OrderEventType.READY_TO_SHIP, OrderEventType.ADDRESS_CHANGED})


def order_events(
    change: OrderChange, occurred_at: datetime, *, previous_revision: int = 0
) -> list[OutboundEvent]:
    """`previous_revision`: the revision of the stored item `change` replaces (0: none)."""
    record = change.record
    snapshot = order_snapshot(record)
    return [
        OutboundEvent.order_event(
            event_type,
            OrderEventDetail(
                event_id=order_event_id(
                    record,
                    event_type,
                    previous=change.previous,
                    previous_revision=previous_revision,
                ),
                shop_id=record.shop_id,
                order_id=record.order_id,
                occurred_at=occurred_at,
                previous_status=change.previous.status if change.previous else None,
                changes=change.changes,
                order=snapshot,
                shipping_address=(
                    shipping_address(record) if event_type in EVENTS_WITH_ADDRESS else None
                ),
            ),
        )
        for event_type in change.events
    ]


def order_event_id(
    record: OrderRecord,
    event_type: OrderEventType,
    *,
    previous: OrderRecord | None = None,
    previous_revision: int = 0,
) -> str:
    parts: tuple[str, ...] = (record.shop_id, record.order_id, event_type.value)
    parts += (str(record.update_time),)
    if event_type is OrderEventType.ADDRESS_CHANGED:
        # The same change decided twice (a race, a redelivery) replaces the same stored item:
        # same id. Another change back to an earlier address replaces a later revision.
        previous_hash = previous.content_hash if previous is not None else ""
        parts += (record.content_hash, previous_hash, str(previous_revision))
    key = "|".join(parts)
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def order_snapshot(record: OrderRecord) -> OrderSnapshot:
    return OrderSnapshot(
        status=record.status,
        update_time=record.update_time,
        create_time=record.create_time,
        paid_time=record.paid_time,
        is_on_hold_order=record.is_on_hold_order,
        shipping_type=record.shipping_type,
        fulfillment_type=record.fulfillment_type,
        warehouse_id=record.warehouse_id,
        delivery_option_id=record.delivery_option_id,
        rts_sla_time=record.deadlines.rts_sla_time,
        shipping_due_time=record.deadlines.shipping_due_time,
        delivery_due_time=record.deadlines.delivery_due_time,
        cancel_reason=record.cancellation.cancel_reason,
        packages=list(record.packages),
        line_items=[
            OutboundLine(
                line_item_id=line.id,
                sku_id=line.sku_id,
                product_id=line.product_id,
                seller_sku=line.seller_sku,
                units=1,
                is_gift=line.is_gift,
                display_status=line.display_status,
                package_id=line.package_id,
                sale_price=line.sale_price,
                currency=line.currency,
                components=[
                    BundleComponent(
                        sku_id=c.sku_id,
                        product_id=c.product_id,
                        seller_sku=c.seller_sku,
                        units=c.sku_count,
                    )
                    for c in line.combined_listing_skus
                ],
            )
            for line in record.line_items
        ],
        payment=OutboundPayment(
            currency=record.payment.currency,
            sub_total=record.payment.sub_total,
            shipping_fee=record.payment.shipping_fee,
            seller_discount=record.payment.seller_discount,
            platform_discount=record.payment.platform_discount,
            tax=record.payment.tax,
            total_amount=record.payment.total_amount,
        ),
        shipments=[
            OutboundShipment(
                package_id=s.package_id,
                line_item_ids=list(s.line_item_ids),
                carrier=s.carrier,
                shipping_provider_id=s.shipping_provider_id,
                tracking_number=s.tracking_number,
                shipped_at=s.shipped_at,
                uploaded_at=s.uploaded_at,
                action=s.action,
            )
            for s in record.shipments
        ],
    )


def shipping_address(record: OrderRecord) -> ShippingAddress | None:
    address = record.buyer.recipient_address
    if address is None:
        return None
    lines = [
        line
        for line in (
            address.address_line1,
            address.address_line2,
            address.address_line3,
            address.address_line4,
        )
        if line
    ]
    return ShippingAddress(
        name=address.name,
        phone_number=address.phone_number,
        full_address=address.full_address,
        address_lines=lines,
        postal_code=address.postal_code,
        region_code=address.region_code,
    )
