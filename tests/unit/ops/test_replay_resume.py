"""Replay stopped by its deadline and resumed from `start_after`, over many table layouts:
every selected event reaches the router exactly once, and every run moves the resume point
forward, even when the filter matches a few events among many pages (the run sends what it
read before it stops). A router crash stops the run at the last batch it took, with the reason.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tts_sync.ops.answers import LISTED_AT_MOST, listed
from tts_sync.ops.replay import BATCH, ReplayError, ScanPage, replay

READ_COST, SEND_COST = 1, 5  # time units: one scan page, one router invocation


class Table:
    """Events keys in scan order, some selected by the replay's filter, read in pages."""

    def __init__(self, rng: random.Random) -> None:
        size = rng.choice([0, 1, 50, 400, 2_000])
        density = rng.choice([0.0, 0.001, 0.05, 0.5, 1.0])
        self.keys = [f"evt-{n:05d}" for n in range(size)]
        self.selected = [k for k in self.keys if rng.random() < density]
        self.page_size = rng.choice([1, 7, BATCH])

    def pages(self, start_after: str | None) -> Iterator[ScanPage]:
        start = self.keys.index(start_after) + 1 if start_after else 0
        chosen = set(self.selected)
        while True:
            scanned = self.keys[start : start + self.page_size]
            start += self.page_size
            last = scanned[-1] if scanned and start < len(self.keys) else None
            items = [
                {"pk": {"S": k}, "event_timestamp": {"N": "1"}} for k in scanned if k in chosen
            ]
            yield ScanPage(items, last)
            if last is None:
                return


class Clock:
    """A run's time left, spent by each page read and each router call."""

    def __init__(self, left: int) -> None:
        self.left = left

    def keep_reading(self) -> bool:
        return self.left > SEND_COST + READ_COST

    def keep_going(self) -> bool:
        return self.left > SEND_COST

    def read(self, pages: Iterator[ScanPage]) -> Iterator[ScanPage]:
        for page in pages:
            self.left -= READ_COST
            yield page


def _router(sent: list[str], clock: Clock) -> Any:
    def invoke(event: dict[str, Any]) -> Mapping[str, Any]:
        clock.left -= SEND_COST
        sent.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
        return {"batchItemFailures": []}

    return invoke


def _timed_run(table: Table, start_after: str | None, sent: list[str], time_left: int) -> Any:
    """One replay run from `start_after` with this much time left, as the ops function runs it."""
    clock = Clock(time_left)
    return replay(
        clock.read(table.pages(start_after)),
        _router(sent, clock),
        "arn:stream",
        keep_reading=clock.keep_reading,
        keep_going=clock.keep_going,
    )


@pytest.mark.parametrize("seed", range(60))
def test_resumed_runs_send_every_selected_event_once_and_each_run_moves_forward(seed: int) -> None:
    rng = random.Random(seed)
    table = Table(rng)
    sent: list[str] = []
    start_after: str | None = None
    for _run in range(10_000):
        report = _timed_run(table, start_after, sent, rng.randint(SEND_COST + READ_COST, 60))
        if report.complete:
            break
        assert report.resume_after is not None, "a run that stopped moved nothing forward"
        if start_after is not None:
            assert table.keys.index(report.resume_after) > table.keys.index(start_after)
        start_after = report.resume_after
    else:
        pytest.fail("the replay never completed")
    assert sent == table.selected  # all of them, in order, none twice


def test_a_single_match_among_many_pages_is_sent_before_the_run_stops() -> None:
    table = Table(random.Random(0))
    table.keys = [f"evt-{n:05d}" for n in range(5_000)]
    table.selected, table.page_size = ["evt-00003"], 1
    sent: list[str] = []
    report = _timed_run(table, None, sent, time_left=3_000)
    assert sent == ["evt-00003"] and report.sent == report.matched == 1
    assert report.complete is False
    assert report.resume_after is not None and report.resume_after > "evt-02900"


def test_a_router_crash_stops_at_the_last_batch_taken_and_the_resumed_run_sends_the_rest() -> None:
    table = Table(random.Random(0))
    table.keys = [f"evt-{n:05d}" for n in range(350)]
    table.selected, table.page_size = list(table.keys), BATCH
    sent: list[str] = []
    calls = 0

    def crashing_once(event: dict[str, Any]) -> Mapping[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ReplayError("EventRouterFunction failed: Task timed out after 60.00 seconds")
        sent.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
        return {"batchItemFailures": []}

    first = replay(table.pages(None), crashing_once, "arn:stream")
    assert (first.complete, first.sent, first.matched) == (False, BATCH, BATCH)
    assert first.error is not None and "timed out" in first.error
    assert first.as_dict()["error"] == first.error
    assert first.resume_after == table.keys[BATCH - 1]
    assert calls == 2  # the crashed batch is not sent again within the run

    second = replay(table.pages(first.resume_after), crashing_once, "arn:stream")
    assert second.complete is True and second.error is None
    assert sent == table.keys  # all 350, none twice


def test_answers_list_at_most_a_hundred_keys_and_count_them_all() -> None:
    keys = [f"evt-{n}" for n in range(LISTED_AT_MOST + 50)]
    assert listed("failed", keys) == {"failed": keys[:LISTED_AT_MOST], "failed_count": 150}
    assert listed("failed", keys[:3]) == {"failed": keys[:3], "failed_count": 3}
