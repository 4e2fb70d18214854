"""The hourly ship-deadline sweep through the order sync function's entry point, on orders
imported from the sandbox into the moto server's OrdersTable (ShipDeadlineIndex is sparse:
only seller-shipped orders still to ship carry ship_by)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import FakeLambdaContext, load_function
from tests.integration.orders.conftest import OrderSync, connect_shops, run_job
from tests.integration.shops.conftest import emitted_metrics

pytestmark = pytest.mark.usefixtures("jobs_env")

HOUR = 3_600
RED = {
    "sku_id": "1729582718312381001",
    "product_id": "1729582718312380001",
    "seller_sku": "MUG-RED",
    "price": "14.00",
}


def iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_sync(event: dict[str, Any]) -> dict[str, Any]:
    handler = load_function("order_sync").lambda_handler
    result: dict[str, Any] = handler(event, FakeLambdaContext(300_000))
    return result


def import_orders(sync: OrderSync, now: int) -> None:
    event = {"job": "backfill", "shop_id": sync.shop_id, "from": iso(now - 4 * 24 * HOUR)}
    run_job(event | {"to": iso(now + 60)})


def test_the_sweep_reports_seller_shipped_orders_near_or_past_their_ship_by_time(
    dynamo_sync: OrderSync, capsys: pytest.CaptureFixture[str]
) -> None:
    sync = dynamo_sync
    connect_shops(sync, sync.shop_id)
    now = int(time.time())

    def awaiting(hours_ago: int) -> Any:  # TikTok gives 72 h to ship from payment
        at = now - hours_ago * HOUR
        return sync.sandbox.place_order(sync.shop_id, [RED], notify=False, on_hold=False, at=at)

    approaching = awaiting(65)  # due in 7 h: inside the 12 h warning window
    overdue = awaiting(80)  # due 8 h ago
    awaiting(10)  # due in 62 h: not yet
    shipped = awaiting(70)
    sync.sandbox.advance_order(shipped.id, "AWAITING_COLLECTION", notify=False, at=now - HOUR)
    cancelled = awaiting(70)
    sync.sandbox.advance_order(cancelled.id, "CANCELLED", notify=False, at=now - HOUR)
    tiktok_shipped = awaiting(70)
    with sync.sandbox.state.lock:
        tiktok_shipped.shipping_type = "TIKTOK"
        tiktok_shipped.fulfillment_type = "FULFILLMENT_BY_TIKTOK"
    on_hold = sync.sandbox.place_order(sync.shop_id, [RED], notify=False, at=now - 70 * HOUR)
    import_orders(sync, now)
    table = sync.tables["OrdersTable"]  # type: ignore[attr-defined]

    def item(order_id: str) -> dict[str, Any]:
        found: dict[str, Any] = sync.dynamodb.get_item(  # type: ignore[attr-defined]
            TableName=table, Key={"shop_id": {"S": sync.shop_id}, "order_id": {"S": order_id}}
        )["Item"]
        return found

    for gone in (shipped, cancelled, tiktok_shipped, on_hold):
        assert "ship_by" not in item(gone.id)  # not in the sparse index
    assert item(approaching.id)["ship_by"] == {"N": str(approaching.to_api()["shipping_due_time"])}
    capsys.readouterr()

    report = order_sync({"job": "ship_deadlines"})

    assert report == {"approaching": 1, "overdue": 1, "order_ids": [overdue.id, approaching.id]}
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.count("OrderShipDeadlineApproaching") == 1
    assert metrics.count("OrderShipDeadlineOverdue") == 1

    # Shipping the overdue order takes it out of the index on the next write.
    sync.sandbox.advance_order(overdue.id, "IN_TRANSIT", notify=False, at=now - 120)
    import_orders(sync, now)
    assert "ship_by" not in item(overdue.id)
    assert order_sync({"job": "ship_deadlines"}) == {
        "approaching": 1,
        "overdue": 0,
        "order_ids": [approaching.id],
    }
    metrics = emitted_metrics(capsys.readouterr().out)
    assert "OrderShipDeadlineOverdue" not in metrics
    assert metrics.count("OrderShipDeadlineApproaching") == 1
