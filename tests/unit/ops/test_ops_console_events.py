"""The ops function's console test events (events/console/ops_*.json) are jobs it accepts;
anything else is refused with each bad field named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tts_sync.ops.jobs import (
    JOB_NAMES,
    InvalidOpsEventError,
    Redrive,
    Replay,
    ReplayQuarantine,
    parse_ops_event,
)

CONSOLE_EVENTS = Path(__file__).resolve().parents[3] / "events" / "console"


def test_every_committed_ops_console_event_is_a_valid_job() -> None:
    files = {f.name: f for f in CONSOLE_EVENTS.glob("ops_*.json")}
    assert set(files) == {
        "ops_redrive_dry_run.json",
        "ops_redrive_move.json",
        "ops_replay_order.json",
        "ops_replay_shop_day.json",
        "ops_replay_quarantine_dry_run.json",
        "ops_replay_quarantine.json",
    }
    jobs = {name: parse_ops_event(json.loads(f.read_text())) for name, f in files.items()}
    assert {job.job for job in jobs.values()} == set(JOB_NAMES)
    dry = jobs["ops_redrive_dry_run.json"]
    assert isinstance(dry, Redrive) and not dry.move and dry.queues is None
    move = jobs["ops_redrive_move.json"]
    assert (
        isinstance(move, Redrive) and move.move and move.queues == ["TrackingUploadDeadLetterQueue"]
    )
    day = jobs["ops_replay_shop_day.json"]
    assert isinstance(day, Replay) and not day.dry_run
    assert day.since == datetime(2026, 12, 1, tzinfo=UTC)
    assert day.types == [1, 4]  # names become the webhook type numbers
    order = jobs["ops_replay_order.json"]
    assert isinstance(order, Replay) and order.order_ids and order.shop_id is None
    quarantine = jobs["ops_replay_quarantine_dry_run.json"]
    assert isinstance(quarantine, ReplayQuarantine) and quarantine.dry_run


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ([], 'expected a JSON object with "job" one of redrive, replay, replay_quarantine'),
        ({"job": "redrvie"}, "(see events/console/ops_*.json)"),
        ({"job": "redrive", "limit": 0}, "redrive: limit: Input should be greater than 0"),
        ({"job": "redrive", "queues": []}, "redrive: queues: List should have at least 1 item"),
        ({"job": "redrive", "queue": "X"}, "redrive: queue: Extra inputs are not permitted"),
        ({"job": "replay", "since": "2026-12-01T00:00:00"}, "replay: since: Input should have"),
        ({"job": "replay", "types": ["ORDER", 1]}, "replay: types.0: Value error, unknown"),
        ({"job": "replay", "types": [99]}, "types.0: Value error, unknown webhook type 99"),
        (
            {"job": "replay", "since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
            "since is after until",
        ),
        ({"job": "replay_quarantine", "dry_run": "maybe"}, "dry_run: Input should be a valid"),
    ],
)
def test_an_invalid_event_is_refused_naming_each_bad_field(event: object, expected: str) -> None:
    with pytest.raises(InvalidOpsEventError) as raised:
        parse_ops_event(event)
    assert expected in str(raised.value)


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidOpsEventError) as raised:
        parse_ops_event({"job": "replay", "shop_id": "", "order_ids": "576", "start_after": ""})
    message = str(raised.value)
    assert message.startswith("replay: ")
    assert "shop_id:" in message and "order_ids:" in message and "start_after:" in message
