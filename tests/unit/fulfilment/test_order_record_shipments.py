"""Uploaded shipments live on the order record: order sync keeps them (TikTok's reads do not
carry them), they do not change what counts as TikTok's state, and TikTok's status catching up
with an uploaded shipment is not a second "Order Shipped"."""

from __future__ import annotations

from tests.unit.orders.fakes import SHOP_ID, MemoryOrderStore, record, tiktok_order
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_sync.fulfilment.upload import shipped_event
from tts_sync.orders.models import StoredOrder, UploadedShipment
from tts_sync.orders.ports import OrderWrite
from tts_sync.orders.sync import SyncContext, apply_states
from tts_sync.outbound import OrderEventType

SHIPMENT = UploadedShipment(
    business_key="5001#order#1Z1",
    package_id="P1",
    line_item_ids=["50011"],
    carrier="UPS",
    shipping_provider_id="6617675021119438850",
    tracking_number="1Z1",
    shipped_at=2_000,
    uploaded_at=2_010,
    action="mark_shipped",
)


def _stored_with_shipment(store: MemoryOrderStore) -> None:
    base = record(tiktok_order("5001", "AWAITING_SHIPMENT", 1_500))
    with_shipment = base.model_copy(update={"shipments": [SHIPMENT]})
    assert with_shipment.content_hash == base.content_hash  # our uploads are not TikTok's state
    store.write(OrderWrite(StoredOrder(record=with_shipment, revision=1), None, reservations=[]))


def test_order_sync_keeps_the_shipments_and_announces_no_second_shipment() -> None:
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    _stored_with_shipment(store)
    context = SyncContext(store=store, publisher=publisher, clock=lambda: 3_000.0)
    shipped = record(tiktok_order("5001", "IN_TRANSIT", 2_020), fetched_at_ms=2)
    apply_states(SHOP_ID, [shipped], context)
    stored = store.get_many(SHOP_ID, ["5001"])["5001"]
    assert stored.record.status == "IN_TRANSIT"
    assert stored.record.shipments == [SHIPMENT]
    assert OrderEventType.SHIPPED not in publisher.detail_types()
    # Without an uploaded shipment (shipped in Seller Center) order sync announces it.
    other = MemoryOrderStore()
    apply_states(
        SHOP_ID,
        [record(tiktok_order("5002", "AWAITING_SHIPMENT", 1_500))],
        SyncContext(other, publisher, lambda: 3_000.0),
    )
    apply_states(
        SHOP_ID,
        [record(tiktok_order("5002", "IN_TRANSIT", 2_020), fetched_at_ms=2)],
        SyncContext(other, publisher, lambda: 3_000.0),
    )
    assert publisher.detail_types().count(OrderEventType.SHIPPED) == 1


def test_the_shipped_event_is_named_by_the_business_key() -> None:
    base = record(tiktok_order("5001", "AWAITING_SHIPMENT", 1_500))
    updated = base.model_copy(update={"shipments": [SHIPMENT]})
    first, again = (
        shipped_event(updated, SHIPMENT, 3_000.0),
        shipped_event(updated, SHIPMENT, 9_000.0),
    )
    assert first.event_id == again.event_id  # decided twice: one event for the back office
    other = SHIPMENT.model_copy(update={"business_key": "5001#order#1Z2", "tracking_number": "1Z2"})
    assert shipped_event(updated, other, 3_000.0).event_id != first.event_id
    assert first.detail.order.shipments[0].tracking_number == "1Z1"
    assert first.detail.shipping_address is None
