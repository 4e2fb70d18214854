"""The DynamoDB adapter's contract in moto: one winner among concurrent writers of a revision,
the order and its reservations in one transaction, published events forgotten."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.integration.orders.conftest import OrderSync
from tests.unit.orders.fakes import record, tiktok_order
from tts_sync.orders.models import StoredOrder
from tts_sync.orders.ports import OrderWrite
from tts_sync.orders.reservations import reservation_changes


def test_concurrent_writers_of_one_revision_have_exactly_one_winner(
    dynamo_sync: OrderSync,
) -> None:
    store, shop_id = dynamo_sync.store, dynamo_sync.shop_id
    first = record(tiktok_order("9001", "ON_HOLD", 100), shop_id=shop_id)
    assert store.write(OrderWrite(StoredOrder(record=first, revision=1), None, []))

    def attempt(n: int) -> bool:
        state = record(tiktok_order("9001", "AWAITING_SHIPMENT", 200 + n), shop_id=shop_id)
        write = OrderWrite(
            StoredOrder(record=state, revision=2),
            expected_revision=1,
            reservations=reservation_changes(first, state),
        )
        return store.write(write)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert results.count(True) == 1
    stored = store.get(shop_id, "9001")
    assert stored is not None and stored.revision == 2
    (reservation,) = store.reservations(shop_id, "SKU-1")
    assert reservation.order_update_time == stored.record.update_time


def test_published_events_are_forgotten_and_the_pending_index_left(
    dynamo_sync: OrderSync,
) -> None:
    store, shop_id = dynamo_sync.store, dynamo_sync.shop_id
    state = record(tiktok_order("9002", "ON_HOLD", 100), shop_id=shop_id)
    pending = {"e1": "{}", "e2": "{}"}
    item = StoredOrder(record=state, revision=1, pending_events=pending, pending_since_ms=5)
    assert store.write(OrderWrite(item, None, []))
    assert [o.record.order_id for o in store.with_pending_events(shop_id, 10)] == ["9002"]
    before_ms = int(time.time() * 1000)
    store.clear_pending(shop_id, "9002", ["e1"], retried_at_ms=before_ms)
    # e2 was just tried again: its wait starts afresh (not the oldest event's time, which
    # would make it look abandoned to every reader at once).
    partly = store.get(shop_id, "9002")
    assert partly is not None and set(partly.pending_events) == {"e2"}
    assert partly.pending_since_ms is not None and partly.pending_since_ms >= before_ms
    assert store.with_pending_events(shop_id, 10) == []
    later_ms = int(time.time() * 1000) + 60_000
    assert [o.record.order_id for o in store.with_pending_events(shop_id, later_ms)] == ["9002"]
    store.clear_pending(shop_id, "9002", ["e2"])
    assert store.with_pending_events(shop_id, 10) == []
    stored = store.get(shop_id, "9002")
    assert stored is not None and stored.pending_events == {} and stored.revision == 3
    # A writer still holding revision 1 cannot put the published events back.
    assert not store.write(OrderWrite(item.model_copy(update={"revision": 2}), 1, []))
