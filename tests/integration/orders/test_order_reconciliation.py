"""The polling backstop (order search by update_time) through the order sync function's entry
logic, against the sandbox and the moto server: it recovers what webhooks missed, exactly once,
and its watermark never moves past what it applied."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FakeLambdaContext, load_function
from tests.integration.orders.conftest import OrderSync, connect_shops, run_job
from tests.integration.orders.streams import stream_batch
from tests.integration.shops.conftest import emitted_metrics
from tts_sync.orders.reconcile import APPLY_EVERY
from tts_sync.outbound import OrderEventType

pytestmark = pytest.mark.usefixtures("jobs_env")

RED = {
    "sku_id": "1729582718312381001",
    "product_id": "1729582718312380001",
    "seller_sku": "MUG-RED",
    "price": "14.00",
}
SEARCH = "/order/202309/orders/search"
CONSOLE_EVENTS = Path(__file__).resolve().parents[3] / "events" / "console"


def place(sync: OrderSync, count: int, *, start: int, step: int = 5, shop_id: str = "") -> list:
    return [
        sync.sandbox.place_order(shop_id or sync.shop_id, [RED], notify=False, at=start + i * step)
        for i in range(count)
    ]


def update_times(sync: OrderSync, shop_id: str = "") -> dict[str, int]:
    with sync.sandbox.state.lock:
        return {
            o.id: o.update_time
            for o in sync.sandbox.state.orders.values()
            if o.shop_id == (shop_id or sync.shop_id)
        }


def watermark(sync: OrderSync, shop_id: str = "") -> int | None:
    value: int | None = sync.dependencies.watermarks.get(shop_id or sync.shop_id)
    return value


def event_ids(sync: OrderSync) -> list[str]:
    return [event.event_id for event in sync.publisher.published]


def created_per_order(sync: OrderSync) -> Counter[str]:
    return Counter(
        e.detail.order_id  # type: ignore[union-attr]
        for e in sync.publisher.published
        if e.detail_type == OrderEventType.CREATED
    )


def test_one_run_recovers_the_orders_webhooks_missed_exactly_once(dynamo_sync: OrderSync) -> None:
    sync = dynamo_sync
    now = int(time.time())
    orders = place(sync, 120, start=now - 3_000, step=20)  # 120 orders: two search pages
    never_sent = {o.id for o in orders[::20]}  # 6 orders (5%): TikTok never sent a webhook
    notifications = sync.sandbox.notifications_for()
    webhooks = [n.envelope() for n in notifications if n.data["order_id"] not in never_sent]
    assert sync.consume(stream_batch(webhooks)) == {"batchItemFailures": []}
    # Later moves of 4 known orders whose webhooks were lost too (inside the poll window).
    moved = [o.id for o in orders[1:5]]
    for order_id in moved:
        sync.sandbox.advance_order(order_id, "AWAITING_SHIPMENT", notify=False, at=now - 300)
    before = len(sync.publisher.published)
    sync.sandbox.clear_requests()

    report = run_job({"job": "reconcile", "shop_id": sync.shop_id})

    assert report["missed_by_webhooks"] == len(never_sent) + len(moved) == 10
    assert report["orders_seen"] == 120 and report["failed_shops"] == []
    assert report["per_shop"][0]["complete"] is True
    for order in orders:
        stored = sync.store.get(sync.shop_id, order.id)
        assert stored is not None and stored.pending_events == {}
        assert stored.record.status == order.status
        assert stored.record.update_time == update_times(sync)[order.id]
    assert {o.record.source for o in [sync.store.get(sync.shop_id, i) for i in never_sent]} == {
        "poll"
    }
    new = sync.publisher.published[before:]
    assert Counter(e.detail_type for e in new) == {
        OrderEventType.CREATED: 6,
        OrderEventType.ON_HOLD: 6,
        OrderEventType.READY_TO_SHIP: 4,
    }
    assert len(event_ids(sync)) == len(set(event_ids(sync)))  # no event twice
    assert created_per_order(sync) == dict.fromkeys([o.id for o in orders], 1)
    assert watermark(sync) == max(update_times(sync).values()) >= now - 300
    # Paging: two pages of 100 at most, sort order and field sent explicitly, token followed.
    calls = sync.sandbox.requests(SEARCH)
    assert len(calls) == 2
    assert all(
        c["query"]["sort_order"] == "ASC" and c["query"]["sort_field"] == "update_time"
        for c in calls
    )
    assert [c["query"]["page_size"] for c in calls] == ["100", "100"]
    assert "page_token" not in calls[0]["query"] and calls[1]["query"]["page_token"]

    published = len(sync.publisher.published)
    again = run_job({"job": "reconcile", "shop_id": sync.shop_id})
    assert again["missed_by_webhooks"] == 0 and again["recovered_events"] == 0
    assert again["per_shop"][0]["unchanged"] == again["orders_seen"] > 0
    assert len(sync.publisher.published) == published
    assert watermark(sync) == max(update_times(sync).values())


def test_orders_outside_the_asked_range_are_filtered_not_applied(dynamo_sync: OrderSync) -> None:
    sync = dynamo_sync
    now = int(time.time())
    inside = place(sync, 3, start=now - 1_000)
    settling = sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 20)
    too_old = sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 86_400 - 50)
    sync.sandbox.inject_fault(SEARCH, "range_spill", spill_seconds=120)

    report = run_job({"job": "reconcile", "shop_id": sync.shop_id})

    shop = report["per_shop"][0]
    assert shop["outside_range"] == 2 and shop["seen"] == 3 and shop["applied"] == 3
    assert sync.store.get(sync.shop_id, settling.id) is None
    assert sync.store.get(sync.shop_id, too_old.id) is None
    assert watermark(sync) == max(o.update_time for o in inside)  # not the settling order's
    # The window asked: a day back (first run) up to the last minute, left to the webhooks.
    [call] = sync.sandbox.requests(SEARCH)
    window = json.loads(call["body"])
    assert window["update_time_lt"] - window["update_time_ge"] == 86_400 - 60
    assert now - 60 <= window["update_time_lt"] <= int(time.time()) - 60


def test_a_run_cut_short_keeps_what_it_applied_and_the_next_continues(
    dynamo_sync: OrderSync,
) -> None:
    sync = dynamo_sync
    now = int(time.time())
    orders = place(sync, 130, start=now - 2_000, step=10)
    times = sorted(update_times(sync)[o.id] for o in orders)

    def short(sync: OrderSync = sync) -> float:
        # Plenty of time until the first page is applied, then almost none.
        stored = sync.dynamodb.scan(  # type: ignore[attr-defined]
            TableName=sync.tables["OrdersTable"],
            Select="COUNT",  # type: ignore[attr-defined]
        )["Count"]
        return 50.0 if stored < APPLY_EVERY else 4.0

    first = run_job({"job": "reconcile", "shop_id": sync.shop_id}, deadline=short)
    shop = first["per_shop"][0]
    assert shop["complete"] is False and shop["applied"] == APPLY_EVERY
    assert watermark(sync) == times[APPLY_EVERY - 1]  # the last order it applied
    assert len(sync.sandbox.requests(SEARCH)) == 1  # no page started that it could not apply

    second = run_job({"job": "reconcile", "shop_id": sync.shop_id})
    assert second["missed_by_webhooks"] == 30 and second["per_shop"][0]["complete"] is True
    assert watermark(sync) == times[-1]
    assert created_per_order(sync) == dict.fromkeys([o.id for o in orders], 1)
    assert len(event_ids(sync)) == len(set(event_ids(sync)))


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "5xx", "status": 503},
        {"kind": "timeout", "sleep_seconds": 2.2},
    ],
)
def test_a_failing_shop_is_reported_and_the_others_go_on(
    dynamo_sync: OrderSync, fault: dict[str, Any]
) -> None:
    sync = dynamo_sync
    other = "7494049642642449999"
    connect_shops(sync, sync.shop_id, other)
    now = int(time.time())
    place(sync, 2, start=now - 2_000)
    place(sync, 2, start=now - 2_000, shop_id=other)
    first = run_job({"job": "reconcile"})  # what the schedule sends: every connected shop
    assert first["shops"] == 2 and first["missed_by_webhooks"] == 4
    marks = {shop: watermark(sync, shop) for shop in (sync.shop_id, other)}
    assert marks == {shop: max(update_times(sync, shop).values()) for shop in marks}

    place(sync, 2, start=now - 600)
    place(sync, 2, start=now - 600, shop_id=other)
    # Every attempt the client makes at the first shop's page fails.
    sync.sandbox.inject_fault(SEARCH, count=3, **fault)
    report = run_job({"job": "reconcile"})

    [failed] = report["failed_shops"]
    ok = other if failed["shop_id"] == sync.shop_id else sync.shop_id
    assert failed["error"] and report["shops"] == 1 and report["missed_by_webhooks"] == 2
    assert watermark(sync, failed["shop_id"]) == marks[failed["shop_id"]]  # not advanced
    assert watermark(sync, ok) == max(update_times(sync, ok).values()) > marks[ok]
    # The next run picks the failed shop up where it was.
    after = run_job({"job": "reconcile"})
    assert after["failed_shops"] == [] and after["missed_by_webhooks"] == 2
    assert watermark(sync, failed["shop_id"]) == max(update_times(sync, failed["shop_id"]).values())


def test_the_console_reconcile_event_runs_through_the_function_and_counts_the_misses(
    dynamo_sync: OrderSync, capsys: pytest.CaptureFixture[str]
) -> None:
    sync = dynamo_sync
    console = json.loads((CONSOLE_EVENTS / "order_sync_reconcile_one_shop.json").read_text())
    assert console == {"job": "reconcile", "shop_id": sync.shop_id}  # the demo shop
    now = int(time.time())
    place(sync, 3, start=now - 900)
    handler = load_function("order_sync").lambda_handler
    report = handler(console, FakeLambdaContext(300_000))
    assert report["missed_by_webhooks"] == 3 and report["deferred_shops"] == []
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.count("OrdersMissedByWebhooks") == 3
    assert handler(console, FakeLambdaContext(300_000))["missed_by_webhooks"] == 0
    assert "OrdersMissedByWebhooks" not in emitted_metrics(capsys.readouterr().out)
    # Too little time left to start a shop: it is deferred to the next run, not half done.
    short = handler(console, FakeLambdaContext(10_000))
    assert short["deferred_shops"] == [sync.shop_id] and short["shops"] == 0


def test_a_page_failing_mid_run_keeps_what_was_applied_and_holds_the_watermark(
    dynamo_sync: OrderSync,
) -> None:
    sync = dynamo_sync
    now = int(time.time())
    place(sync, 5, start=now - 5_000)
    run_job({"job": "reconcile", "shop_id": sync.shop_id})
    mark = watermark(sync)
    orders = place(sync, 150, start=now - 3_000, step=10)
    armed: list[bool] = []

    def tiktok_fails_once_the_first_page_is_in(sync: OrderSync = sync) -> float:
        stored = sync.dynamodb.scan(  # type: ignore[attr-defined]
            TableName=sync.tables["OrdersTable"],  # type: ignore[attr-defined]
            Select="COUNT",
        )["Count"]
        if stored >= APPLY_EVERY and not armed:  # 5 earlier orders + 95 of this run
            armed.append(True)  # TikTok starts failing while the run is under way
            sync.sandbox.inject_fault(SEARCH, "5xx", count=3, status=502)
        return 50.0

    report = run_job(
        {"job": "reconcile", "shop_id": sync.shop_id},
        deadline=tiktok_fails_once_the_first_page_is_in,
    )
    assert armed and [f["shop_id"] for f in report["failed_shops"]] == [sync.shop_id]
    kept = [o for o in orders if sync.store.get(sync.shop_id, o.id) is not None]
    assert len(kept) == APPLY_EVERY - 5  # the first page (5 known + 95 new) stays applied
    assert watermark(sync) == mark  # not past what the failed run may have missed

    after = run_job({"job": "reconcile", "shop_id": sync.shop_id})
    assert after["failed_shops"] == [] and after["missed_by_webhooks"] == 150 - len(kept)
    assert watermark(sync) == max(update_times(sync)[o.id] for o in orders)
    assert set(created_per_order(sync).values()) == {1} and len(created_per_order(sync)) == 155
    assert len(event_ids(sync)) == len(set(event_ids(sync)))


def test_a_malformed_order_in_the_search_fails_alone_and_leaks_no_buyer_data(
    dynamo_sync: OrderSync, capsys: pytest.CaptureFixture[str]
) -> None:
    sync = dynamo_sync
    now = int(time.time())
    orders = place(sync, 3, start=now - 900)
    bad = orders[1]
    sync.sandbox.advance_order(bad.id, "AWAITING_SHIPMENT", notify=False, at=now - 800)
    with sync.sandbox.state.lock:
        document = sync.sandbox.state.orders[bad.id].to_api()
    buyer = [document["recipient_address"]["full_address"], document["buyer_email"]]
    sync.sandbox.inject_fault(SEARCH, "malformed_orders", order_ids=[bad.id])
    report = run_job({"job": "reconcile", "shop_id": sync.shop_id})
    assert report["failed_shops"] == [] and report["missed_by_webhooks"] == 2
    (shop,) = report["per_shop"]
    assert shop["malformed"] == 1 and shop["failed_order_ids"] == [bad.id]
    assert sync.store.get(sync.shop_id, bad.id) is None
    output = capsys.readouterr()
    for secret in buyer:
        assert secret and secret not in output.out + output.err
    after = run_job({"job": "reconcile", "shop_id": sync.shop_id})  # TikTok sends it whole
    assert after["missed_by_webhooks"] == 1
    assert sync.store.get(sync.shop_id, bad.id) is not None


def test_an_expired_token_is_the_shop_not_connected_path_for_the_poll(
    dynamo_sync: OrderSync,
) -> None:
    sync = dynamo_sync
    now = int(time.time())
    place(sync, 2, start=now - 900)
    sync.sandbox.inject_fault(SEARCH, "token_expired", 5)
    report = run_job({"job": "reconcile", "shop_id": sync.shop_id})
    assert report["failed_shops"] == []
    (shop,) = report["per_shop"]
    assert shop["not_connected"] is True and shop["failed"] == 0
    assert watermark(sync) is None
    assert len(sync.sandbox.requests(SEARCH)) == 1  # not retried


def test_an_order_failing_every_run_holds_the_watermark_only_until_given_up(
    dynamo_sync: OrderSync, capsys: pytest.CaptureFixture[str]
) -> None:
    from tts_sync.orders.reconcile import GIVE_UP_HELD_RUNS

    sync = dynamo_sync
    now = int(time.time())
    orders = place(sync, 3, start=now - 900)
    bad = orders[0]
    sync.sandbox.inject_fault(SEARCH, "malformed_orders", 100, order_ids=[bad.id])
    for _ in range(GIVE_UP_HELD_RUNS - 1):
        report = run_job({"job": "reconcile", "shop_id": sync.shop_id})
        assert report["per_shop"][0]["failed_order_ids"] == [bad.id]
        assert watermark(sync) is None  # held
    capsys.readouterr()
    report = run_job({"job": "reconcile", "shop_id": sync.shop_id})
    (shop,) = report["per_shop"]
    assert shop["skipped_order_ids"] == [bad.id]
    assert watermark(sync) == max(update_times(sync)[o.id] for o in orders[1:])
    from tts_sync.observability import metrics

    metrics.flush_metrics()
    assert emitted_metrics(capsys.readouterr().out).count("ReconcileOrdersSkipped") == 1
    item = sync.dynamodb.get_item(  # type: ignore[attr-defined]
        TableName=sync.tables["SyncStateTable"],  # type: ignore[attr-defined]
        Key={"pk": {"S": f"orders-watermark#{sync.shop_id}"}},
    )["Item"]
    assert item["skipped_order_ids"] == {"L": [{"S": bad.id}]}  # recorded for ops
    assert "held_runs" not in item


def test_a_failing_shop_counts_in_a_per_shop_metric(
    dynamo_sync: OrderSync, capsys: pytest.CaptureFixture[str]
) -> None:
    from tts_sync.observability import metrics

    sync = dynamo_sync
    sync.sandbox.inject_fault(SEARCH, "5xx", 10, status=502)
    capsys.readouterr()
    report = run_job({"job": "reconcile", "shop_id": sync.shop_id})
    assert [f["shop_id"] for f in report["failed_shops"]] == [sync.shop_id]
    metrics.flush_metrics()
    documents = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "ReconcileShopFailed" in line
    ]
    per_shop = [d for d in documents if d.get("shop_id") == sync.shop_id]
    assert per_shop and per_shop[0]["ReconcileShopFailed"] in (1, 1.0, [1.0])
    assert (
        emitted_metrics("\n".join(json.dumps(d) for d in documents)).count("ReconcileShopFailed")
        >= 1
    )
