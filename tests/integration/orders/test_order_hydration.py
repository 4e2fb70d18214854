"""Webhooks through the Events stream consumer into the order record, against the sandbox:
one detail call per 50 orders across the batch, failures retried alone, nothing duplicated."""

from __future__ import annotations

import json

import pytest

from tests.integration.orders.conftest import OrderSync
from tests.integration.orders.streams import stream_batch
from tests.integration.shops.conftest import emitted_metrics
from tts_local.sandbox.seed import DemoData
from tts_sync.observability import metrics
from tts_sync.orders.reservations import ReservationState
from tts_sync.outbound import OrderEventType

RED = {
    "sku_id": "1729582718312381001",
    "product_id": "1729582718312380001",
    "seller_sku": "MUG-RED",
    "price": "14.00",
}
BLUE = RED | {"sku_id": "1729582718312381002", "seller_sku": "MUG-BLUE"}


def envelopes(sync: OrderSync, order_ids: list[str] | None = None) -> list[dict]:
    return [
        n.envelope()
        for n in sync.sandbox.notifications_for()
        if not order_ids or n.data.get("order_id") in order_ids
    ]


def test_an_order_webhook_hydrates_the_record_reservations_and_events(
    dynamo_sync: OrderSync,
) -> None:
    sync = dynamo_sync
    order = sync.sandbox.place_order(sync.shop_id, [RED | {"quantity": 2}, BLUE], notify=False)
    batch = stream_batch(envelopes(sync, [order.id]))
    assert sync.consume(batch) == {"batchItemFailures": []}
    stored = sync.store.get(sync.shop_id, order.id)
    assert stored is not None and stored.record.status == "ON_HOLD"
    assert stored.record.buyer.recipient_address is None  # hidden during the hold
    assert stored.pending_events == {}
    assert sync.publisher.detail_types() == [OrderEventType.CREATED, OrderEventType.ON_HOLD]
    red = sync.store.reservations(sync.shop_id, RED["sku_id"])
    assert [(r.state, r.units) for r in red] == [(ReservationState.HELD, 2)]
    assert sync.detail_calls() == 1

    sync.sandbox.advance_order(order.id, "AWAITING_SHIPMENT", notify=False)
    sync.sandbox.clear_requests()
    assert sync.consume(stream_batch(envelopes(sync, [order.id])[-1:])) == {"batchItemFailures": []}
    stored = sync.store.get(sync.shop_id, order.id)
    assert stored is not None and stored.record.status == "AWAITING_SHIPMENT"
    assert stored.record.buyer.recipient_address is not None
    ready = sync.publisher.published[-1]
    assert ready.detail_type == OrderEventType.READY_TO_SHIP
    assert ready.detail.shipping_address is not None  # type: ignore[union-attr]
    # The whole item went through DynamoDB and back: ids strings, money decimal strings.
    item = sync.dynamodb.get_item(  # type: ignore[attr-defined]
        TableName=sync.tables["OrdersTable"],  # type: ignore[attr-defined]
        Key={"shop_id": {"S": sync.shop_id}, "order_id": {"S": order.id}},
    )["Item"]
    assert item["order_id"] == {"S": order.id} and "ship_by" in item
    assert item["payment"]["M"]["total_amount"]["S"] == stored.record.payment.total_amount
    assert set(item["buyer"]["M"]) >= {"recipient_address", "user_id", "buyer_email"}

    sync.sandbox.advance_order(order.id, "CANCELLED", notify=False)
    assert sync.consume(stream_batch(envelopes(sync, [order.id])[-2:])) == {"batchItemFailures": []}
    red = sync.store.reservations(sync.shop_id, RED["sku_id"])
    assert [(r.state, r.units) for r in red] == [(ReservationState.RELEASED, 0)]
    assert sync.publisher.detail_types()[-1] == OrderEventType.CANCELLED
    assert sync.publisher.detail_types().count(OrderEventType.CANCELLED) == 1


def test_one_detail_call_serves_fifty_orders_across_the_batch(memory_sync: OrderSync) -> None:
    sync = memory_sync
    orders = [sync.sandbox.place_order(sync.shop_id, [RED], notify=False) for _ in range(120)]
    batch = stream_batch(envelopes(sync))  # UNPAID + ON_HOLD of each: 240 records
    assert len(batch["Records"]) == 240
    assert sync.consume(batch) == {"batchItemFailures": []}
    assert sync.detail_calls() == 3  # 120 distinct orders, 50 a call
    calls = sync.sandbox.requests("/order/202309/orders")
    assert all(len(c["query"]["ids"].split(",")) <= 50 for c in calls)
    assert len({(o.record.order_id) for o in sync.store.orders.values()}) == len(orders)


def test_an_order_the_detail_reply_leaves_out_fails_its_records_alone(
    memory_sync: OrderSync,
) -> None:
    sync = memory_sync
    kept, dropped = (sync.sandbox.place_order(sync.shop_id, [RED], notify=False) for _ in range(2))
    sync.sandbox.inject_fault("/order/202309/orders", "omit_orders", order_ids=[dropped.id])
    batch = stream_batch(envelopes(sync))
    result = sync.consume(batch)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    expected = {
        r["dynamodb"]["SequenceNumber"]
        for r in batch["Records"]
        if json.loads(r["dynamodb"]["NewImage"]["payload"]["S"])["data"]["order_id"] == dropped.id
    }
    assert failed == expected and len(expected) == 2
    assert (sync.shop_id, kept.id) in sync.store.orders
    assert (sync.shop_id, dropped.id) not in sync.store.orders
    # The retry (TikTok answers in full again) stores it, and the kept order is not re-published.
    before = len(sync.publisher.published)
    assert sync.consume(batch) == {"batchItemFailures": []}
    new_events = sync.publisher.published[before:]
    assert {e.detail.order_id for e in new_events} == {dropped.id}  # type: ignore[union-attr]


def test_an_order_tiktok_keeps_leaving_out_is_kept_and_no_longer_holds_the_shard(
    dynamo_sync: OrderSync,
) -> None:
    """A webhook naming an order TikTok never returns (another shop's id, Partner Center's test
    notification): retried a few times, then recorded as not found instead of failing its
    batch for a day and landing in the DLQ. On attempts alone: the stream retries a record 10
    times within seconds, long before any wall-clock rule would let it go."""
    from tts_sync.orders import hydration

    sync = dynamo_sync
    batch = stream_batch([_ghost(sync.shop_id)])
    sequence = batch["Records"][0]["dynamodb"]["SequenceNumber"]
    for _ in range(hydration.GIVE_UP_MISSING_AFTER_ATTEMPTS - 1):
        assert sync.consume(batch) == {"batchItemFailures": [{"itemIdentifier": sequence}]}
    noted = _missing_item(sync, GHOST_ID)
    assert noted is not None
    assert noted["attempts"] == {"N": str(hydration.GIVE_UP_MISSING_AFTER_ATTEMPTS - 1)}
    # The 5th reply that leaves it out, seconds after the first: let go, and still recorded.
    assert sync.consume(batch) == {"batchItemFailures": []}
    noted = _missing_item(sync, GHOST_ID)
    assert noted is not None
    assert noted["attempts"] == {"N": str(hydration.GIVE_UP_MISSING_AFTER_ATTEMPTS)}
    assert sync.store.get(sync.shop_id, GHOST_ID) is None
    assert sync.publisher.published == []


def test_an_order_found_after_being_left_out_forgets_its_missing_count(
    dynamo_sync: OrderSync,
) -> None:
    """TikTok lagging behind its own webhook: the misses must not count against a later one."""
    from tts_sync.orders import hydration

    sync = dynamo_sync
    order = sync.sandbox.place_order(sync.shop_id, [RED], notify=False)
    batch = stream_batch(envelopes(sync, [order.id])[-1:])
    sync.sandbox.inject_fault("/order/202309/orders", "omit_orders", 2, order_ids=[order.id])
    for _ in range(2):
        assert len(sync.consume(batch)["batchItemFailures"]) == 1
    assert _missing_item(sync, order.id) is not None
    assert sync.consume(batch) == {"batchItemFailures": []}  # TikTok answers in full again
    assert _missing_item(sync, order.id) is None
    # A later lag of the same order starts from nothing: not given up on after 3 more misses.
    sync.sandbox.advance_order(order.id, "AWAITING_SHIPMENT", notify=False)
    later = stream_batch(envelopes(sync, [order.id])[-1:])
    misses = hydration.GIVE_UP_MISSING_AFTER_ATTEMPTS - 2
    sync.sandbox.inject_fault("/order/202309/orders", "omit_orders", misses, order_ids=[order.id])
    for _ in range(misses):
        assert len(sync.consume(later)["batchItemFailures"]) == 1
    noted = _missing_item(sync, order.id)
    assert noted is not None
    assert noted["attempts"] == {"N": str(hydration.GIVE_UP_MISSING_AFTER_ATTEMPTS - 2)}


GHOST_ID = "576000000000000999"


def _ghost(shop_id: str) -> dict:
    return {
        "type": 1,
        "tts_notification_id": "ghost-1",
        "shop_id": shop_id,
        "timestamp": 1,
        "data": {"order_id": GHOST_ID, "order_status": "AWAITING_SHIPMENT"},
    }


def _missing_item(sync: OrderSync, order_id: str) -> dict | None:
    key = {"pk": {"S": f"order-missing#{sync.shop_id}#{order_id}"}}
    table = sync.tables["SyncStateTable"]  # type: ignore[attr-defined]
    reply = sync.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)  # type: ignore[attr-defined]
    return reply.get("Item")


def test_throttling_and_timeouts_on_detail_lose_nothing(memory_sync: OrderSync) -> None:
    sync = memory_sync
    orders = [sync.sandbox.place_order(sync.shop_id, [RED], notify=False) for _ in range(3)]
    sync.sandbox.inject_fault("/order/202309/orders", "429", count=1, retry_after=0.01)
    batch = stream_batch(envelopes(sync))
    assert sync.consume(batch) == {"batchItemFailures": []}  # the client's retry absorbed it
    sync.sandbox.inject_fault("/order/202309/orders", "timeout", count=5, sleep_seconds=2.5)
    sync.sandbox.advance_order(orders[0].id, "AWAITING_SHIPMENT", notify=False)
    late = stream_batch(envelopes(sync, [orders[0].id])[-1:])
    result = sync.consume(late)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [
        late["Records"][0]["dynamodb"]["SequenceNumber"]
    ]
    sync.sandbox.clear_faults()
    assert sync.consume(late) == {"batchItemFailures": []}
    assert sync.store.orders[(sync.shop_id, orders[0].id)].record.status == "AWAITING_SHIPMENT"
    types = sync.publisher.detail_types()
    assert (
        types.count(OrderEventType.CREATED) == 3 and types.count(OrderEventType.READY_TO_SHIP) == 1
    )


def test_unknown_types_are_ignored_and_unconnected_shops_skipped(memory_sync: OrderSync) -> None:
    sync = memory_sync
    batch = stream_batch(
        [
            {
                "type": 99,
                "tts_notification_id": "n1",
                "shop_id": sync.shop_id,
                "timestamp": 1,
                "data": {},
            },
            {
                "type": 1,
                "tts_notification_id": "n2",
                "shop_id": "999",
                "timestamp": 1,
                "data": {"order_id": "5", "order_status": "ON_HOLD"},
            },
        ]
    )
    assert sync.consume(batch) == {"batchItemFailures": []}
    assert sync.detail_calls() == 0 and sync.store.orders == {}


def test_a_corrupt_record_fails_alone(memory_sync: OrderSync, demo: DemoData) -> None:
    sync = memory_sync
    order = sync.sandbox.place_order(sync.shop_id, [RED], notify=False)
    batch = stream_batch(envelopes(sync, [order.id]))
    batch["Records"][0]["dynamodb"]["NewImage"]["payload"] = {"S": "{not json"}
    result = sync.consume(batch)
    assert result == {
        "batchItemFailures": [{"itemIdentifier": batch["Records"][0]["dynamodb"]["SequenceNumber"]}]
    }
    assert (sync.shop_id, order.id) in sync.store.orders


def test_a_malformed_order_from_tiktok_fails_alone_and_leaks_no_buyer_data(
    memory_sync: OrderSync, capsys: pytest.CaptureFixture[str]
) -> None:
    """One order TikTok sends with fields of the wrong type: reported, counted and retried by
    the stream (then kept by its failure destination); the rest of the batch goes through."""
    sync = memory_sync
    good, bad = (sync.sandbox.place_order(sync.shop_id, [RED], notify=False) for _ in range(2))
    sync.sandbox.advance_order(bad.id, "AWAITING_SHIPMENT", notify=False)
    buyer = _buyer_strings(sync, bad.id)
    sync.sandbox.inject_fault("/order/202309/orders", "malformed_orders", order_ids=[bad.id])
    batch = stream_batch(envelopes(sync))
    result = sync.consume(batch)
    metrics.flush_metrics()
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    expected = {
        r["dynamodb"]["SequenceNumber"]
        for r in batch["Records"]
        if json.loads(r["dynamodb"]["NewImage"]["payload"]["S"])["data"]["order_id"] == bad.id
    }
    assert failed == expected and expected
    assert (sync.shop_id, good.id) in sync.store.orders
    assert (sync.shop_id, bad.id) not in sync.store.orders
    output = capsys.readouterr()
    assert emitted_metrics(output.out).count("OrderMalformed") == 1
    for secret in buyer:
        assert secret not in output.out + output.err
    # TikTok sends it whole again: the retry stores it.
    assert sync.consume(batch) == {"batchItemFailures": []}
    assert sync.store.orders[(sync.shop_id, bad.id)].record.status == "AWAITING_SHIPMENT"


def _buyer_strings(sync: OrderSync, order_id: str) -> list[str]:
    with sync.sandbox.state.lock:
        document = sync.sandbox.state.orders[order_id].to_api()
    address = document["recipient_address"]
    found = [address["full_address"], address["phone_number"], document["buyer_email"]]
    assert all(found)
    return found


def test_one_id_tiktok_refuses_is_isolated_and_the_rest_of_its_chunk_goes_through(
    memory_sync: OrderSync, capsys: pytest.CaptureFixture[str]
) -> None:
    """A permanent error on a 50-id call (36009004 for one id TikTok will not take): the chunk
    is bisected, the bad id is reported and no longer retried, the others are stored."""
    sync = memory_sync
    orders = [sync.sandbox.place_order(sync.shop_id, [RED], notify=False) for _ in range(8)]
    bad = orders[5]
    sync.sandbox.inject_fault("/order/202309/orders", "reject_orders", 50, order_ids=[bad.id])
    batch = stream_batch(envelopes(sync))
    assert sync.consume(batch) == {"batchItemFailures": []}
    metrics.flush_metrics()
    stored = {order_id for (_, order_id) in sync.store.orders}
    assert stored == {o.id for o in orders} - {bad.id}
    assert sync.detail_calls() <= 1 + 2 * 3  # one call, then two a level down to one id
    assert emitted_metrics(capsys.readouterr().out).count("OrderDetailRejected") == 1


def test_an_expired_token_is_the_shop_not_connected_path_not_a_retry(
    memory_sync: OrderSync, capsys: pytest.CaptureFixture[str]
) -> None:
    sync = memory_sync
    for _ in range(3):
        sync.sandbox.place_order(sync.shop_id, [RED], notify=False)
    sync.sandbox.inject_fault("/order/202309/orders", "token_expired", 10)
    assert sync.consume(stream_batch(envelopes(sync))) == {"batchItemFailures": []}
    metrics.flush_metrics()
    assert sync.store.orders == {}
    assert sync.detail_calls() == 1  # no bisection, no retry of a token TikTok refuses
    assert emitted_metrics(capsys.readouterr().out).count("OrderEventShopNotConnected") == 1
