"""The quantity export function's console test events (events/console/quantity_export_*.json)
are jobs it accepts; anything else is refused with a message that says what is expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tts_sync.stock.jobs import (
    JOB_NAMES,
    BufferRulesJob,
    InvalidStockJobError,
    MapLocation,
    parse_stock_job,
)

CONSOLE_EVENTS = Path(__file__).resolve().parents[3] / "events" / "console"
SHOP_ID = "7494049642642441621"


def test_every_quantity_export_console_event_is_a_valid_job() -> None:
    files = sorted(CONSOLE_EVENTS.glob("quantity_export_*.json"))
    jobs = {f.name: parse_stock_job(json.loads(f.read_text())) for f in files}
    assert {job.job for job in jobs.values()} == set(JOB_NAMES)  # one sample per job
    # Every job names its shop but the schedule's, which covers every connected shop.
    assert all(getattr(job, "shop_id", SHOP_ID) == SHOP_ID for job in jobs.values())
    assert not hasattr(jobs["quantity_export_catalog_sync_all.json"], "shop_id")
    mapping = jobs["quantity_export_map_location.json"]
    assert isinstance(mapping, MapLocation) and mapping.location_id == "WH-EAST"
    rules = jobs["quantity_export_buffer_rules.json"]
    assert isinstance(rules, BufferRulesJob) and rules.rules is not None
    assert rules.rules.percent_listed == 90


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "job"),
        ({"job": "resync"}, "resync.shop_id: Field required"),
        ({"job": "explode", "shop_id": SHOP_ID}, "does not match any of the expected tags"),
        ({"job": "buffer_rules", "shop_id": SHOP_ID, "rules": {"percent_listed": 120}}, "100"),
        ({"job": "map_location", "shop_id": SHOP_ID, "location_id": "X"}, "warehouse_id"),
        ({"Records": []}, "expected an SQS batch"),
    ],
)
def test_other_events_are_refused_with_the_reason(event: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidStockJobError) as caught:
        parse_stock_job(event)
    assert reason in str(caught.value)
