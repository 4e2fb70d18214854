"""The audit trail of one order through its life, written by the Events stream's consumer as
it happens (webhooks, hydration, status changes, reservations, outbound events), read back in
order; no PII; duplicates and replays add nothing; a failing audit table fails nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.orders.streams import stored_event, stream_record
from tests.support import FakeLambdaContext
from tests.unit.audit.fakes import MemoryAuditLog
from tests.unit.orders.fakes import (
    SHOP_ID,
    MemoryMissingOrderLedger,
    MemoryOrderStore,
    StaticShopAccess,
    tiktok_order,
)
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_sync.audit.models import AuditKind
from tts_sync.audit.trail import order_trail, render_trail
from tts_sync.catalog.listing import ListingContext
from tts_sync.events.router import handle_events_stream
from tts_sync.orders.runtime import (
    OrderSyncDependencies,
    order_sync_dependencies,
    override_dependencies,
)
from tts_sync.orders.sync import ApplyReport, SyncContext, recover_pending
from tts_sync.tiktok.models import Order

ORDER_ID = "576462400412456789"
# The seeded buyer: none of these may appear in any audit entry.
BUYER = {
    "name": "Zelda Quartermain",
    "phone_number": "+1 555 0100 7777",
    "full_address": "42 Wallaby Way, Sydney",
    "postal_code": "2000-ZQ",
}
BUYER_FIELDS = {
    "user_id": "7400000000000555001",
    "buyer_email": "zelda.q@example.invalid",
    "buyer_message": "please leave it with the neighbour",
    "buyer_nickname": "zeldaq",
}


class FakeOrderApi:
    """Get Order Detail answering the order's current state (the truth), or nothing."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.calls = 0

    def get_order_detail(self, shop: Any, order_ids: Sequence[str], **_: Any) -> list[Order]:
        self.calls += 1
        return [self.orders[i] for i in order_ids if i in self.orders]

    def search_orders(self, *args: Any, **kwargs: Any) -> Iterator[Order]:
        return iter(())


@pytest.fixture
def world() -> Iterator[tuple[FakeOrderApi, MemoryAuditLog, MemoryEventPublisher]]:
    api, audit, publisher = FakeOrderApi(), MemoryAuditLog(), MemoryEventPublisher()
    store = MemoryOrderStore()
    override_dependencies(
        OrderSyncDependencies(
            sync=SyncContext(store=store, publisher=publisher, clock=CLOCK, audit=audit),
            listings=ListingContext(store=None, publisher=publisher, clock=CLOCK),  # type: ignore[arg-type]
            shops=None,  # type: ignore[arg-type]
            shop_access=StaticShopAccess(),
            watermarks=None,  # type: ignore[arg-type]
            missing_orders=MemoryMissingOrderLedger(),
            order_api=lambda: api,
        )
    )
    yield api, audit, publisher
    override_dependencies(None)


class Clock:
    """Moves 1 ms a read (entries of one batch keep their order); `advance` for time passing."""

    def __init__(self) -> None:
        self.now = 1_764_230_000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


CLOCK = Clock()


def _order(status: str, update_time: int, **fields: Any) -> Order:
    address = BUYER if status not in ("UNPAID", "ON_HOLD") else {}
    return tiktok_order(
        ORDER_ID,
        status,
        update_time,
        recipient_address=address,
        line_items=[
            {"id": "L1", "sku_id": "SKU-RED", "seller_sku": "MUG-RED", "product_id": "P1"},
            {"id": "L2", "sku_id": "SKU-RED", "seller_sku": "MUG-RED", "product_id": "P1"},
            {"id": "L3", "sku_id": "SKU-BLUE", "seller_sku": "MUG-BLUE", "product_id": "P1"},
        ],
        **BUYER_FIELDS,
        **fields,
    )


def _webhook(notification_id: str, status: str, update_time: int, at: float) -> dict[str, Any]:
    event = stored_event(
        {
            "type": 1,
            "tts_notification_id": notification_id,
            "shop_id": SHOP_ID,
            "timestamp": update_time + 5,
            "data": {"order_id": ORDER_ID, "order_status": status, "update_time": update_time},
        }
    )
    event = event.model_copy(update={"received_at": datetime.fromtimestamp(at, UTC)})
    return stream_record(event)


def _consume(*records: dict[str, Any]) -> dict[str, Any]:
    return handle_events_stream({"Records": list(records)}, FakeLambdaContext(), lambda: 50.0)


def _life(api: FakeOrderApi) -> list[list[dict[str, Any]]]:
    """The order's life as the stream delivers it: placed (on hold), ready to ship with
    TikTok's late retry of the first webhook after it, cancelled. Returns the batches."""
    states = [
        (_order("ON_HOLD", 2000, is_on_hold_order=True), [("N1", "ON_HOLD", 2000)]),
        (
            _order("AWAITING_SHIPMENT", 2100),
            [("N2", "AWAITING_SHIPMENT", 2100), ("N1b", "ON_HOLD", 2000)],
        ),
        (_order("CANCELLED", 2200, cancel_reason="Buyer changed mind"), [("N3", "CANCEL", 2200)]),
    ]
    batches = []
    for state, webhooks in states:
        batch = [_webhook(n, status, when, CLOCK.advance(60)) for n, status, when in webhooks]
        api.orders[ORDER_ID] = state
        assert _consume(*batch) == {"batchItemFailures": []}
        batches.append(batch)
    return batches


def _summary(audit: MemoryAuditLog) -> list[tuple[str, str]]:
    trail = order_trail(audit, ORDER_ID)
    return [(entry.kind.value, entry.reason) for entry in trail.entries]


def test_the_trail_tells_the_orders_life_in_order(world: Any) -> None:
    api, audit, publisher = world
    _life(api)
    assert _summary(audit) == [
        ("webhook_received", "type 1 ORDER_STATUS_CHANGE"),
        ("hydration", "read from TikTok (webhook): created"),
        ("state_change", "(new) -> ON_HOLD"),
        ("reservation_change", "held: 1 unit(s) held"),  # SKU-BLUE
        ("reservation_change", "held: 2 unit(s) held"),  # SKU-RED
        ("outbound_event", "Order Created published"),
        ("outbound_event", "Order On Hold published"),
        ("webhook_received", "type 1 ORDER_STATUS_CHANGE"),
        # N1b, TikTok's late retry of N1, in the same batch: hydrated once with N2
        ("webhook_received", "type 1 ORDER_STATUS_CHANGE"),
        ("hydration", "read from TikTok (webhook): status, recipient_address"),
        ("state_change", "ON_HOLD -> AWAITING_SHIPMENT"),
        ("reservation_change", "held: 1 unit(s) held"),
        ("reservation_change", "held: 2 unit(s) held"),
        ("outbound_event", "Order Ready To Ship published"),
        ("webhook_received", "type 1 ORDER_STATUS_CHANGE"),
        ("hydration", "read from TikTok (webhook): status, cancellation"),
        ("state_change", "AWAITING_SHIPMENT -> CANCELLED"),
        ("reservation_change", "released: 0 unit(s) held"),
        ("reservation_change", "released: 0 unit(s) held"),
        ("outbound_event", "Order Cancelled published"),
    ]
    entries = order_trail(audit, ORDER_ID).entries
    webhooks = [
        e.detail["notification_id"] for e in entries if e.kind is AuditKind.WEBHOOK_RECEIVED
    ]
    assert webhooks == ["N1", "N2", "N1b", "N3"]
    revisions = [e.detail["revision"] for e in entries if e.kind is AuditKind.HYDRATION]
    assert revisions == [1, 3, 5]  # 2 and 4: the events cleared after publishing
    published = [e.detail["event_id"] for e in entries if e.kind is AuditKind.OUTBOUND_EVENT]
    assert published == [event.event_id for event in publisher.published]
    released = [e.detail for e in entries if e.kind is AuditKind.RESERVATION_CHANGE][-2:]
    assert {(d["sku_id"], d["state"], d["ordered_units"]) for d in released} == {
        ("SKU-BLUE", "released", 1),
        ("SKU-RED", "released", 2),
    }
    assert "CANCELLED" in render_trail(order_trail(audit, ORDER_ID))


def test_the_trail_holds_no_buyer_pii(world: Any) -> None:
    api, audit, _ = world
    _life(api)
    text = json.dumps([entry.model_dump(mode="json") for entry in audit.all()])
    text += render_trail(order_trail(audit, ORDER_ID))
    for value in [*BUYER.values(), *BUYER_FIELDS.values(), "Zelda", "Wallaby", "neighbour"]:
        assert value not in text
    assert audit.all(), "an empty trail would pass the check above"


def test_duplicates_and_replays_add_no_entries(world: Any) -> None:
    api, audit, publisher = world
    batches = _life(api)
    before = audit.all()
    events = len(publisher.published)
    for batch in [*batches, *reversed(batches)]:  # redelivered, then replayed out of order
        assert _consume(*batch) == {"batchItemFailures": []}
    assert audit.all() == before
    assert len(publisher.published) == events


def test_a_failing_audit_table_fails_nothing(
    world: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    api, audit, publisher = world
    audit.failing = True
    _life(api)  # every batch answered without a failure (asserted inside)
    assert publisher.detail_types()[-1] == "Order Cancelled"
    assert audit.all() == []
    assert "audit entries not written" in caplog.text
    from tests.integration.shops.conftest import emitted_metrics
    from tts_sync.observability import metrics

    capsys.readouterr()
    metrics.flush_metrics()
    assert "AuditWriteFailed" in emitted_metrics(capsys.readouterr().out)


def test_an_order_tiktok_leaves_out_is_on_the_trail_once_per_webhook(world: Any) -> None:
    api, audit, _ = world
    record = _webhook("N9", "ON_HOLD", 2000, CLOCK.advance(60))
    for _ in range(3):  # the stream retries the record
        answer = _consume(record)
        assert len(answer["batchItemFailures"]) == 1
    assert _summary(audit) == [
        ("webhook_received", "type 1 ORDER_STATUS_CHANGE"),
        ("hydration", "missing: order detail left it out"),
    ]
    api.orders[ORDER_ID] = _order("ON_HOLD", 2000)
    assert _consume(record) == {"batchItemFailures": []}
    kinds = [kind for kind, _ in _summary(audit)]
    assert kinds[:3] == ["webhook_received", "hydration", "hydration"]
    assert "state_change" in kinds


def test_a_publish_failure_is_on_the_trail_until_the_event_goes_out(world: Any) -> None:
    api, audit, publisher = world
    api.orders[ORDER_ID] = _order("ON_HOLD", 2000)
    accept = publisher.publish

    def refuse_all(events: Any) -> None:
        publisher.refuse_event_ids = {e.event_id for e in events}
        accept(events)

    publisher.publish = refuse_all
    _consume(_webhook("N1", "ON_HOLD", 2000, CLOCK.advance(60)))
    pending = [e for e in audit.all() if e.kind is AuditKind.OUTBOUND_EVENT]
    assert [e.detail["published"] for e in pending] == [False, False]
    assert "kept pending" in pending[0].reason
    publisher.publish = accept
    publisher.refuse_event_ids = set()
    dependencies = order_sync_dependencies()
    stored = dependencies.sync.store.get_many(SHOP_ID, [ORDER_ID])
    recover_pending(SHOP_ID, stored.values(), dependencies.sync, ApplyReport())
    after = [e for e in audit.all() if e.kind is AuditKind.OUTBOUND_EVENT]
    assert [e.sort_key for e in after] == [e.sort_key for e in pending]  # rewritten, not added
    assert [e.detail["published"] for e in after] == [True, True]


def test_the_trail_joins_stock_exports_while_the_order_held_the_sku() -> None:
    from tests.unit.orders.fakes import record
    from tts_sync.audit.trail import order_written, stock_export
    from tts_sync.orders.models import StoredOrder
    from tts_sync.orders.reservations import reservation_changes

    audit = MemoryAuditLog()
    held = record(_order("ON_HOLD", 2000))
    cancelled = record(_order("CANCELLED", 2200))
    audit.record(
        order_written(
            None,
            StoredOrder(record=held, revision=1),
            ["created"],
            reservation_changes(None, held),
            at=100.0,
        )
    )
    audit.record(
        order_written(
            held,
            StoredOrder(record=cancelled, revision=3),
            ["status"],
            reservation_changes(held, cancelled),
            at=200.0,
        )
    )

    def push(sku: str, warehouse: str, at: float, value: int) -> None:
        audit.record(
            [
                stock_export(
                    shop_id=SHOP_ID,
                    sku_id=sku,
                    warehouse_id=warehouse,
                    value=value,
                    reserved_units=2,
                    confirmed=True,
                    outcome="confirmed",
                    at=at,
                )
            ]
        )

    push("SKU-RED", "EAST", 50.0, 1)  # before the order: not about it
    push("SKU-RED", "EAST", 150.0, 2)
    push("SKU-BLUE", "WEST", 160.0, 3)
    push("SKU-RED", "EAST", 210.0, 4)  # the first after the release: gave the units back
    push("SKU-RED", "WEST", 215.0, 5)
    push("SKU-RED", "EAST", 220.0, 6)  # later pushes: not about this order any more
    push("SKU-GREEN", "EAST", 150.0, 7)  # a SKU the order does not have
    trail = order_trail(audit, ORDER_ID)
    exports = [e.detail["value_sent"] for e in trail.entries if e.kind is AuditKind.STOCK_EXPORT]
    assert exports == [2, 3, 4, 5]
    times = [e.at for e in trail.entries]
    assert times == sorted(times)
