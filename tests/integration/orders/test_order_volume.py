"""Volume: 10,000 webhooks for 2,000 sandbox orders, 30 % duplicated, fully shuffled, consumed
by concurrent workers (the real consumer and TikTok client against the sandbox; in-memory
stores). Nothing lost, nothing published twice, every order in its latest state, and the
reservations equal to a model computed from the sandbox's final orders."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from queue import Empty, Queue
from typing import Any

from tests.integration.orders.conftest import OrderSync
from tests.integration.orders.streams import stored_event, stream_record
from tts_sync.outbound import OrderEventType

ORDERS = 2_000
WEBHOOKS = 10_000
WORKERS = 4
BATCH = 100
HELD_STATUSES = {"ON_HOLD", "AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"}


def _pool(sync: OrderSync) -> list[dict[str, Any]]:
    skus = [
        {"sku_id": sku.id, "product_id": product.id, "seller_sku": sku.seller_sku, "price": "9.50"}
        for product in sync.demo.products
        for sku in product.skus.values()
    ]
    bundle = dict(skus[0]) | {
        "sku_id": "1729582718312389999",
        "seller_sku": "MUG-SET",
        "combined_listing_skus": [
            {"sku_id": skus[0]["sku_id"], "product_id": skus[0]["product_id"], "sku_count": 2},
            {"sku_id": skus[-1]["sku_id"], "product_id": skus[-1]["product_id"], "sku_count": 1},
        ],
    }
    return [*skus, bundle]


def _consume_concurrently(sync: OrderSync, envelopes: list[dict[str, Any]]) -> int:
    """Stream batches to WORKERS threads; failed records come back (like the stream's retry)
    until every record is done. Returns how many records were retried."""
    records = [stream_record(stored_event(envelope)) for envelope in envelopes]
    work: Queue[list[dict[str, Any]]] = Queue()
    for start in range(0, len(records), BATCH):
        work.put(records[start : start + BATCH])
    retried = Counter[str]()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            try:
                batch = work.get(timeout=0.5)
            except Empty:
                return
            try:
                result = sync.consume({"Records": batch})
            except BaseException as exc:  # a crash would lose the batch: fail the test
                errors.append(exc)
                return
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            again = [r for r in batch if r["dynamodb"]["SequenceNumber"] in failed]
            for record in again:
                retried[record["dynamodb"]["SequenceNumber"]] += 1
            if again:
                if max(retried.values()) >= 5:  # seen by the main thread, not lost with this one
                    errors.append(AssertionError("a record keeps failing"))
                    return
                work.put(again)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert work.empty()
    return sum(retried.values())


def test_ten_thousand_webhooks_two_thousand_orders_nothing_lost_nothing_twice(
    memory_sync: OrderSync,
) -> None:
    _order_traffic_through_the_consumer(memory_sync, orders=ORDERS, webhooks=WEBHOOKS)


def test_the_same_traffic_through_dynamodb_with_concurrent_writers(dynamo_sync: OrderSync) -> None:
    """A slice of the same through the DynamoDB adapters (moto): the transaction and the
    revision condition are what keep concurrent workers from duplicating or losing."""
    _order_traffic_through_the_consumer(dynamo_sync, orders=60, webhooks=300)


def _order_traffic_through_the_consumer(sync: OrderSync, *, orders: int, webhooks: int) -> None:
    sandbox, rng = sync.sandbox, random.Random(20261202)
    ORDERS, WEBHOOKS = orders, webhooks
    pool = _pool(sync)
    start = int(time.time()) - 6 * 3600
    placed_orders = []
    for index in range(ORDERS):
        items = [dict(rng.choice(pool)) | {"quantity": rng.choice((1, 1, 2))}]
        if rng.random() < 0.3:
            items.append(dict(rng.choice(pool)))
        if rng.random() < 0.05:
            items.append(dict(pool[0]) | {"is_gift": True, "price": "0.00"})
        placed_orders.append(
            sandbox.place_order(sync.shop_id, items, notify=False, at=start + index)
        )
    orders = placed_orders
    placed = [n.envelope() for n in sandbox.notifications_for()]
    # TikTok delivers at least once: 30 % of all deliveries are copies.
    early_copies = [dict(rng.choice(placed)) for _ in range(int(0.3 * 0.4 * WEBHOOKS))]
    early = placed[: int(0.7 * len(placed))] + early_copies
    rng.shuffle(early)
    # The first hour's webhooks are consumed while the orders are still ON_HOLD in TikTok.
    retried = _consume_concurrently(sync, early)
    first = sync.store.get_many(sync.shop_id, [order.id for order in orders]).values()
    on_hold = sum(1 for item in first if item.record.status == "ON_HOLD")
    assert on_hold > 0.5 * ORDERS

    # The buyers' hour passes: most orders are released, some cancelled, some addresses edited.
    later = start + 3600
    for index, order in enumerate(orders):
        roll = rng.random()
        if roll < 0.1:
            sandbox.advance_order(order.id, "CANCELLED", notify=False, at=later + index)
            continue
        sandbox.advance_order(order.id, "AWAITING_SHIPMENT", notify=False, at=later + index)
        if roll < 0.25:
            sandbox.advance_order(order.id, "CANCELLED", notify=False, at=later + 600 + index)
        elif roll < 0.35:
            sandbox.change_address(order.id, notify=False, at=later + 900 + index)
    moved = [n.envelope() for n in sandbox.notifications_for()[len(placed) :]]

    # The rest, fully shuffled with late copies of the first hour's webhooks.
    rest = placed[int(0.7 * len(placed)) :] + moved
    everything = placed + moved
    late_copies = [dict(rng.choice(everything)) for _ in range(WEBHOOKS - len(early) - len(rest))]
    assert len(early_copies) + len(late_copies) >= 0.3 * WEBHOOKS
    late = rest + late_copies
    rng.shuffle(late)
    assert len(early) + len(late) == WEBHOOKS
    retried += _consume_concurrently(sync, late)

    final = {order.id: sandbox.state.orders[order.id] for order in orders}
    items = sync.store.get_many(sync.shop_id, [order.id for order in orders])
    stored = {order_id: item.record for order_id, item in items.items()}
    lost = {order.id for order in orders} - set(stored)
    assert not lost, f"{len(lost)} orders lost"
    wrong = [
        order_id
        for order_id in stored
        if (stored[order_id].status, stored[order_id].update_time)
        != (final[order_id].status, final[order_id].update_time)
    ]
    assert not wrong, f"{len(wrong)} orders not in their latest state"

    event_ids = [event.event_id for event in sync.publisher.published]
    assert len(event_ids) == len(set(event_ids)), "an outbound event was published twice"
    per_order = Counter(
        (event.detail.order_id, event.detail_type)  # type: ignore[union-attr]
        for event in sync.publisher.published
    )
    assert max(per_order.values()) == 1
    created = sum(1 for (_, kind) in per_order if kind == OrderEventType.CREATED)
    assert created == ORDERS
    cancelled = sum(1 for o in final.values() if o.status == "CANCELLED")
    assert sum(1 for (_, k) in per_order if k == OrderEventType.CANCELLED) == cancelled
    assert all(not item.pending_events for item in items.values())

    # Reservations: units per SKU of the orders still open in TikTok's final state.
    model: Counter[str] = Counter()
    for order in final.values():
        if order.status not in HELD_STATUSES:
            continue
        for line in order.to_api()["line_items"]:
            components = line.get("combined_listing_skus") or []
            if components:
                for component in components:
                    model[component["sku_id"]] += component["sku_count"]
            else:
                model[line["sku_id"]] += 1
    held = {}
    for sku_id in {entry["sku_id"] for entry in pool} | set(model):
        units = sum(
            r.units for r in sync.store.reservations(sync.shop_id, sku_id) if r.state == "held"
        )
        if units:
            held[sku_id] = units
    assert held == dict(model)
    # One detail call per 50 distinct orders a batch at most (plus the retries of failures).
    assert sync.detail_calls() <= (WEBHOOKS // BATCH + 2) * 2 + retried
