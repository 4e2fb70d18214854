"""The order sync function's console test events (events/console/order_sync_*.json) and the
schedules' inputs are jobs the function accepts; anything else is refused with a message that
says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import template_resources
from tts_sync.orders.jobs import (
    JOB_NAMES,
    Backfill,
    InvalidOrderSyncEventError,
    Reconcile,
    Reservations,
    parse_order_sync_event,
)

CONSOLE_EVENTS = Path(__file__).resolve().parents[3] / "events" / "console"
SHOP_ID = "7494049642642441621"


def console_event(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CONSOLE_EVENTS / name).read_text())
    return document


def test_every_order_sync_console_event_is_a_valid_job() -> None:
    files = sorted(CONSOLE_EVENTS.glob("order_sync_*.json"))
    assert {f.name for f in files} >= {
        "order_sync_backfill.json",
        "order_sync_reconcile_one_shop.json",
        "order_sync_reconcile_scheduled.json",
        "order_sync_ship_deadlines.json",
        "order_sync_rejected_listings.json",
        "order_sync_reservations.json",
    }
    jobs = {f.name: parse_order_sync_event(json.loads(f.read_text())) for f in files}
    assert {job.job for job in jobs.values()} == set(JOB_NAMES)
    backfill = jobs["order_sync_backfill.json"]
    assert isinstance(backfill, Backfill) and backfill.shop_id == SHOP_ID
    assert int(backfill.start.timestamp()) == 1_793_491_200  # 2026-11-01T00:00:00Z
    assert int(backfill.end.timestamp()) - int(backfill.start.timestamp()) == 29 * 86_400
    one = jobs["order_sync_reconcile_one_shop.json"]
    assert isinstance(one, Reconcile) and one.shop_id == SHOP_ID
    reservations = jobs["order_sync_reservations.json"]
    assert isinstance(reservations, Reservations) and reservations.sku_id


def test_the_scheduled_console_events_are_what_the_schedules_send() -> None:
    schedules = template_resources()["OrderSyncFunction"]["Properties"]["Events"]
    inputs = {name: json.loads(s["Properties"]["Input"]) for name, s in schedules.items()}
    assert inputs["Reconcile"] == console_event("order_sync_reconcile_scheduled.json")
    assert inputs["ShipDeadlines"] == console_event("order_sync_ship_deadlines.json")
    reconcile = parse_order_sync_event(inputs["Reconcile"])
    assert isinstance(reconcile, Reconcile) and reconcile.shop_id is None  # every shop


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"job": "resync"}, '"job" one of reconcile, ship_deadlines, backfill'),
        ({"shop_id": SHOP_ID}, '"job" one of'),
        (["reconcile"], "expected a JSON object"),
        ({"job": "reconcile", "shop": SHOP_ID}, "reconcile: shop: Extra inputs are not permitted"),
        ({"job": "reconcile", "shop_id": "7494 0496"}, "reconcile: shop_id: String should match"),
        ({"job": "backfill", "shop_id": SHOP_ID, "to": "2026-11-30T00:00:00Z"}, "from: Field"),
        (
            {"job": "backfill", "shop_id": SHOP_ID, "from": "2026-11-01T00:00:00", "to": "x"},
            "backfill: from: Input should have timezone info; to: Input should be a valid",
        ),
        ({"job": "rejected_listings"}, "rejected_listings: shop_id: Field required"),
        ({"job": "reservations", "shop_id": SHOP_ID}, "reservations: sku_id: Field required"),
    ],
)
def test_a_malformed_event_gets_a_precise_error(event: Any, message: str) -> None:
    with pytest.raises(InvalidOrderSyncEventError) as raised:
        parse_order_sync_event(event)
    assert message in str(raised.value)
