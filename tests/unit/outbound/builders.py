"""Small valid outbound events for tests."""

from __future__ import annotations

from datetime import UTC, datetime

from tts_sync.outbound import (
    ListingEventDetail,
    OrderEventDetail,
    OrderEventType,
    OrderSnapshot,
    OutboundEvent,
    OutboundLine,
    OutboundPayment,
    ShippingAddress,
)

OBSERVED_AT = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


def order_detail(event_id: str = "evt-1", **changes: object) -> OrderEventDetail:
    fields: dict[str, object] = {
        "event_id": event_id,
        "shop_id": "7494049642642441621",
        "order_id": "576461413038785752",
        "occurred_at": OBSERVED_AT,
        "previous_status": "UNPAID",
        "changes": ["status"],
        "order": OrderSnapshot(
            status="AWAITING_SHIPMENT",
            update_time=1764584000,
            create_time=1764583000,
            paid_time=1764583100,
            line_items=[
                OutboundLine(
                    line_item_id="577086512123755123",
                    sku_id="1729592969712207000",
                    seller_sku="MUG-RED",
                    sale_price="12.50",
                    currency="USD",
                )
            ],
            payment=OutboundPayment(currency="USD", sub_total="12.50", total_amount="15.49"),
        ),
    }
    fields.update(changes)
    return OrderEventDetail.model_validate(fields)


def shipping_address() -> ShippingAddress:
    return ShippingAddress(
        name="Jo Buyer",
        phone_number="(+1)555-0100",
        full_address="1 Main St, Springfield, IL 62701",
        address_lines=["1 Main St"],
        postal_code="62701",
        region_code="US",
    )


def order_event(
    event_type: OrderEventType = OrderEventType.CREATED, event_id: str = "evt-1"
) -> OutboundEvent:
    return OutboundEvent.order_event(event_type, order_detail(event_id))


def listing_event(event_id: str = "evt-listing-1") -> OutboundEvent:
    return OutboundEvent.listing_event(
        ListingEventDetail(
            event_id=event_id,
            shop_id="7494049642642441621",
            product_id="1729592969712206000",
            status="ACTIVATE",
            previous_status="PENDING",
            update_time=1764584000,
            occurred_at=OBSERVED_AT,
        )
    )
