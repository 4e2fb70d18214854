"""Order records with buyer PII and financial facts, for the privacy tests."""

from __future__ import annotations

from tts_sync.orders.models import BuyerData, OrderRecord, StoredOrder
from tts_sync.outbound import OrderEventType, OutboundEvent
from tts_sync.tiktok.models import ItemTax, OrderLineItem, OrderPayment, RecipientAddress

SHOP_ID = "7495540735365777507"
KEY = b"k" * 48


def buyer_of(n: int) -> BuyerData:
    """Buyer n's PII: every value is unique to n, so a scan can find any leftover."""
    return BuyerData(
        user_id=f"74940496{n:011d}",
        buyer_email=f"buyer{n}@scs.tiktokw.us",
        buyer_message=f"leave at door {n} please",
        buyer_nickname=f"nick-{n}-zz",
        buyer_avatar=f"https://avatar.example/{n}-av.png",
        cpf=f"cpf{n:08d}",
        cpf_name=f"Cpf Name {n}x",
        recipient_address=RecipientAddress(
            name=f"Recipient Name{n}x",
            first_name=f"First{n}x",
            last_name=f"Last{n}x",
            phone_number=f"(+1)555{n:07d}",
            full_address=f"No.{n} Privacy Street, Springfield",
            address_line1=f"No.{n} Privacy Street",
            postal_code=f"Z{n:05d}",
            region_code="US",
        ),
    )


def pii_values(n: int) -> list[str]:
    buyer = buyer_of(n)
    address = buyer.recipient_address
    assert address is not None
    return [
        buyer.user_id,
        buyer.buyer_email,
        buyer.buyer_message,
        buyer.buyer_nickname,
        buyer.buyer_avatar,
        buyer.cpf,
        buyer.cpf_name,
        address.name,
        address.phone_number,
        address.full_address,
        address.postal_code,
    ]


def order_id_of(n: int, k: int = 0) -> str:
    return f"5766536881{n:05d}{k:03d}"


def order_record(
    n: int, k: int = 0, *, status: str = "AWAITING_SHIPMENT", update_time: int = 1_796_000_000
) -> OrderRecord:
    total = 10 + n + k
    return OrderRecord(
        shop_id=SHOP_ID,
        order_id=order_id_of(n, k),
        status=status,
        update_time=update_time,
        create_time=update_time - 3600,
        paid_time=update_time - 3000,
        shipping_type="SELLER",
        line_items=[
            OrderLineItem(
                id=f"li{n}{k}",
                sku_id=f"17295827183{n % 7:02d}",
                seller_sku=f"SKU-{n % 7}",
                sale_price=f"{total}.50",
                currency="USD",
                item_tax=[ItemTax(tax_type="SALES_TAX", tax_amount=f"{n % 5}.25")],
            )
        ],
        payment=OrderPayment(
            currency="USD",
            sub_total=f"{total}.50",
            shipping_fee="4.99",
            tax=f"{n % 5}.25",
            total_amount=f"{total + 5}.74",
        ),
        buyer=buyer_of(n),
        fetched_at_ms=1,
    )


def ready_to_ship_event(record: OrderRecord) -> OutboundEvent:
    from datetime import UTC, datetime

    from tts_sync.orders.lifecycle import describe_change
    from tts_sync.orders.outbound_events import order_events

    previous = record.model_copy(
        update={"status": "ON_HOLD", "update_time": record.update_time - 1}
    )
    events = order_events(describe_change(previous, record), datetime.now(UTC))
    (event,) = [e for e in events if e.detail_type == OrderEventType.READY_TO_SHIP]
    return event


def stored(record: OrderRecord, *, with_pending_address: bool = False) -> StoredOrder:
    pending = {}
    if with_pending_address:
        event = ready_to_ship_event(record)
        pending[event.event_id] = event.model_dump_json()
    return StoredOrder(
        record=record,
        revision=3,
        pending_events=pending,
        pending_since_ms=1 if pending else None,
    )
