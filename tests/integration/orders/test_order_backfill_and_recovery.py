"""Ops backfills through the console event, and events a crashed (or refused) writer left on
the order, published by the next reconciliation run exactly once (PendingEventsIndex in moto)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.integration.orders.conftest import OrderSync, run_job
from tests.integration.orders.streams import stream_batch
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_sync.orders.jobs import InvalidOrderSyncEventError
from tts_sync.orders.runtime import override_dependencies
from tts_sync.orders.sync import PENDING_GRACE_SECONDS, SyncContext
from tts_sync.outbound import OrderEventType, OutboundEvent, OutboundPublishError

pytestmark = pytest.mark.usefixtures("jobs_env")

DAY = 86_400
RED = {
    "sku_id": "1729582718312381001",
    "product_id": "1729582718312380001",
    "seller_sku": "MUG-RED",
    "price": "14.00",
}
SEARCH = "/order/202309/orders/search"


def iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RefusingOncePublisher(MemoryEventPublisher):
    """The bus refusing every event of the first publish (a throttled PutEvents)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused_once: list[str] = []

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        if not self.refused_once:
            self.refused_once = [event.event_id for event in events]
            raise OutboundPublishError(self.refused_once, "throttled")
        super().publish(events)


def test_a_backfill_imports_the_window_and_reports_it(dynamo_sync: OrderSync) -> None:
    sync = dynamo_sync
    now = int(time.time())
    inside = [
        sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 10 * DAY + i * 600)
        for i in range(5)
    ]
    before = sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 13 * DAY)
    after = sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 2 * DAY)
    event = {
        "job": "backfill",
        "shop_id": sync.shop_id,
        "from": iso(now - 12 * DAY),
        "to": iso(now - 5 * DAY),
    }
    report = run_job(event)
    assert report["imported"] == 5 and report["seen"] == 5 and report["failed"] == 0
    assert report["complete"] is True and report["failed_order_ids"] == []
    for order in inside:
        stored = sync.store.get(sync.shop_id, order.id)
        assert stored is not None and stored.record.source == "backfill"
        assert stored.record.status == "ON_HOLD"
    assert sync.store.get(sync.shop_id, before.id) is None
    assert sync.store.get(sync.shop_id, after.id) is None
    assert Counter(e.detail_type for e in sync.publisher.published)[OrderEventType.CREATED] == 5
    assert sync.dependencies.watermarks.get(sync.shop_id) is None  # the poll's cursor untouched
    # Run again: nothing new, nothing published twice.
    published = len(sync.publisher.published)
    assert run_job(event)["imported"] == 0
    assert len(sync.publisher.published) == published


@pytest.mark.parametrize(
    ("start_days_ago", "end_days_ago", "message"),
    [
        (40, 5, "backfill: a backfill window is at most 30 days: split it"),
        (5, 6, "backfill: `to` must be after `from`"),
        (5, 5, "backfill: `to` must be after `from`"),
        (95, 80, "backfill: a backfill reaches at most 90 days back"),
        (-1, -2, "backfill: `from` is in the future"),
    ],
)
def test_a_backfill_outside_the_allowed_range_is_refused(
    memory_sync: OrderSync, start_days_ago: int, end_days_ago: int, message: str
) -> None:
    now = int(time.time())
    event = {
        "job": "backfill",
        "shop_id": memory_sync.shop_id,
        "from": iso(now - start_days_ago * DAY),
        "to": iso(now - end_days_ago * DAY),
    }
    with pytest.raises(InvalidOrderSyncEventError) as raised:
        run_job(event)
    assert str(raised.value) == message
    assert memory_sync.sandbox.requests(SEARCH) == []  # refused before any call


def test_events_left_pending_are_published_by_the_next_run_exactly_once(
    dynamo_sync: OrderSync,
) -> None:
    sync = dynamo_sync
    publisher = RefusingOncePublisher()
    sync.dependencies = replace(
        sync.dependencies,
        sync=replace(sync.dependencies.sync, publisher=publisher),
    )
    override_dependencies(sync.dependencies)
    now = int(time.time())
    recent = sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 600)
    # Outside the poll's window (a day back): only the pending index finds it.
    old = sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 3 * DAY)
    webhooks = [n.envelope() for n in sync.sandbox.notifications_for()]
    assert sync.consume(stream_batch(webhooks)) == {"batchItemFailures": []}
    refused = set(publisher.refused_once)
    assert len(refused) == 4 and publisher.published == []  # Created + On Hold, two orders
    table = sync.tables["OrdersTable"]  # type: ignore[attr-defined]
    for order in (recent, old):
        stored = sync.store.get(sync.shop_id, order.id)
        assert stored is not None and len(stored.pending_events) == 2
    # The poll runs past the grace time (the writer is presumed dead by then).
    later = SyncContext(
        store=sync.store,
        publisher=publisher,
        clock=lambda: time.time() + PENDING_GRACE_SECONDS + 5,
    )
    override_dependencies(replace(sync.dependencies, sync=later))

    report = run_job({"job": "reconcile", "shop_id": sync.shop_id})

    assert report["recovered_events"] == 4 and report["missed_by_webhooks"] == 0
    assert {e.event_id for e in publisher.published} == refused
    assert len(publisher.published) == 4
    for order in (recent, old):
        stored = sync.store.get(sync.shop_id, order.id)
        assert stored is not None and stored.pending_events == {}
        item = sync.dynamodb.get_item(  # type: ignore[attr-defined]
            TableName=table, Key={"shop_id": {"S": sync.shop_id}, "order_id": {"S": order.id}}
        )["Item"]
        assert "pending_since" not in item  # out of the sparse PendingEventsIndex
    index = sync.dynamodb.query(  # type: ignore[attr-defined]
        TableName=table,
        IndexName="PendingEventsIndex",
        KeyConditionExpression="shop_id = :s",
        ExpressionAttributeValues={":s": {"S": sync.shop_id}},
    )
    assert index["Items"] == []

    again = run_job({"job": "reconcile", "shop_id": sync.shop_id})
    assert again["recovered_events"] == 0 and len(publisher.published) == 4


def test_the_reservations_console_job_lists_what_open_orders_hold(dynamo_sync: OrderSync) -> None:
    sync = dynamo_sync
    now = int(time.time())
    two = sync.sandbox.place_order(
        sync.shop_id, [RED | {"quantity": 2}], notify=False, on_hold=False, at=now - 900
    )
    one = sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 800)
    gone = sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 700)
    sync.sandbox.advance_order(gone.id, "CANCELLED", notify=False, at=now - 600)
    assert run_job({"job": "reconcile", "shop_id": sync.shop_id})["missed_by_webhooks"] == 3

    result = run_job({"job": "reservations", "shop_id": sync.shop_id, "sku_id": RED["sku_id"]})

    assert result["shop_id"] == sync.shop_id and result["sku_id"] == RED["sku_id"]
    assert result["held_units"] == 3
    by_order = {r["order_id"]: (r["state"], r["units"]) for r in result["reservations"]}
    assert by_order == {two.id: ("held", 2), one.id: ("held", 1), gone.id: ("released", 0)}
    json.dumps(result)  # what the console shows: plain JSON
    empty = run_job({"job": "reservations", "shop_id": sync.shop_id, "sku_id": "404"})
    assert empty == {"shop_id": sync.shop_id, "sku_id": "404", "held_units": 0, "reservations": []}
