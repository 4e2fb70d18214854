"""`tts-sync ops replay`: stored webhook events back through the Events stream's consumer (its
real code, the DynamoDB adapters on moto, the sandbox as TikTok). A replay of what was applied
changes nothing and publishes nothing; after a fix, what failed is applied once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.orders.conftest import OrderSync, create_tables
from tests.integration.orders.streams import STREAM_ARN, stored_event
from tests.support import FakeLambdaContext
from tts_sync.events.router import handle_events_stream
from tts_sync.ops.replay import ReplaySelection, replay, stored_event_pages, stored_events
from tts_sync.outbound import OrderEventType

RED = {
    "sku_id": "1729582718312381001",
    "product_id": "1729582718312380001",
    "seller_sku": "MUG-RED",
    "price": "14.00",
}


def _invoke(event):
    return handle_events_stream(event, FakeLambdaContext(), lambda: 50.0)


def _store_webhooks(sync: OrderSync, table: str, order_ids: list[str]) -> int:
    stored = 0
    for notification in sync.sandbox.notifications_for():
        if notification.data.get("order_id") in order_ids:
            item = stored_event(notification.envelope()).to_item()
            sync.dynamodb.put_item(TableName=table, Item=item)  # type: ignore[attr-defined]
            stored += 1
    return stored


def test_replaying_what_was_applied_changes_nothing_and_publishes_nothing(
    dynamo_sync: OrderSync,
) -> None:
    sync = dynamo_sync
    table = create_tables(sync.dynamodb, "EventsTable")["EventsTable"]  # type: ignore[attr-defined]
    orders = [sync.sandbox.place_order(sync.shop_id, [RED], notify=False) for _ in range(3)]
    sync.sandbox.advance_order(orders[0].id, "AWAITING_SHIPMENT", notify=False)
    ids = [o.id for o in orders]
    assert _store_webhooks(sync, table, ids) >= 4

    first = replay(stored_event_pages(sync.dynamodb, table, ReplaySelection()), _invoke, STREAM_ARN)  # type: ignore[attr-defined]
    assert (first.matched, first.failed) == (first.sent, [])
    applied = {o: sync.store.get(sync.shop_id, o) for o in ids}
    assert all(stored is not None for stored in applied.values())
    published = len(sync.publisher.published)
    assert published > 0

    again = replay(stored_event_pages(sync.dynamodb, table, ReplaySelection()), _invoke, STREAM_ARN)  # type: ignore[attr-defined]
    assert again.failed == [] and again.matched == first.matched
    assert len(sync.publisher.published) == published  # no outbound event twice
    for order_id, before in applied.items():
        after = sync.store.get(sync.shop_id, order_id)
        assert after is not None and before is not None
        assert after.revision == before.revision  # no write at all


def test_a_replay_after_a_fix_applies_what_failed_once(dynamo_sync: OrderSync) -> None:
    sync = dynamo_sync
    table = create_tables(sync.dynamodb, "EventsTable")["EventsTable"]  # type: ignore[attr-defined]
    order = sync.sandbox.place_order(sync.shop_id, [RED], notify=False)
    _store_webhooks(sync, table, [order.id])
    # TikTok failing (every try of the client's retries): the live delivery failed.
    sync.sandbox.inject_fault("/order/202309/orders", "5xx", count=100, status=500)
    failed = replay(
        stored_event_pages(sync.dynamodb, table, ReplaySelection()), _invoke, STREAM_ARN
    )  # type: ignore[attr-defined]
    assert failed.failed and sync.store.get(sync.shop_id, order.id) is None

    sync.sandbox.clear_faults()  # fixed
    fixed = replay(stored_event_pages(sync.dynamodb, table, ReplaySelection()), _invoke, STREAM_ARN)  # type: ignore[attr-defined]
    assert fixed.failed == []
    stored = sync.store.get(sync.shop_id, order.id)
    assert stored is not None and stored.record.status == "ON_HOLD"
    created = [
        event
        for event in sync.publisher.published
        if event.detail.order_id == order.id and event.detail_type == OrderEventType.CREATED  # type: ignore[union-attr]
    ]
    assert len(created) == 1


def test_the_selection_narrows_by_shop_time_type_and_order(dynamo_sync: OrderSync) -> None:
    sync = dynamo_sync
    table = create_tables(sync.dynamodb, "EventsTable")["EventsTable"]  # type: ignore[attr-defined]
    orders = [sync.sandbox.place_order(sync.shop_id, [RED], notify=False) for _ in range(2)]
    sync.sandbox.advance_order(orders[1].id, "CANCELLED", notify=False)
    total = _store_webhooks(sync, table, [o.id for o in orders])

    def count(**selection) -> int:
        return sum(1 for _ in stored_events(sync.dynamodb, table, ReplaySelection(**selection)))  # type: ignore[attr-defined]

    assert count() == total
    assert count(shop_id=sync.shop_id) == total
    assert count(shop_id="no-such-shop") == 0
    assert count(order_ids=frozenset({orders[0].id})) == total - count(
        order_ids=frozenset({orders[1].id})
    )
    assert count(order_ids=frozenset({orders[0].id})) >= 1
    assert count(types=frozenset({1})) + count(types=frozenset({11})) <= total
    assert count(types=frozenset({99})) == 0
    future = datetime.now(UTC) + timedelta(days=2)
    assert count(since=future) == 0
    assert count(until=future) == total
