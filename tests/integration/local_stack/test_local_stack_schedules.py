"""The schedule expression matcher: AWS's rate() and six-field cron(), in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tts_local.stack.schedules import ScheduleError, next_fire_time

START = datetime(2026, 11, 21, 22, 7, 30, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(5 minutes)", START, datetime(2026, 11, 21, 22, 12, 30, tzinfo=UTC)),
        (
            "rate(1 hour)",
            datetime(2026, 11, 21, 23, 8, tzinfo=UTC),
            datetime(2026, 11, 22, 0, 7, 30, tzinfo=UTC),
        ),
        ("cron(0 3 * * ? *)", START, datetime(2026, 11, 22, 3, 0, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", START, datetime(2026, 11, 21, 22, 15, tzinfo=UTC)),
        ("cron(0 6 ? * MON *)", START, datetime(2026, 11, 23, 6, 0, tzinfo=UTC)),
        ("cron(30 8 ? * 2-6 *)", START, datetime(2026, 11, 23, 8, 30, tzinfo=UTC)),
        ("cron(0 0 1 JAN,JUL ? *)", START, datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("cron(10,20 22 21 11 ? 2026)", START, datetime(2026, 11, 21, 22, 10, tzinfo=UTC)),
    ],
)
def test_next_fire_time(expression: str, after: datetime, expected: datetime) -> None:
    assert next_fire_time(expression, after, START) == expected


@pytest.mark.parametrize(
    "expression",
    ["rate(0 minutes)", "cron(0 3 * * *)", "cron(0 3 L * ? *)", "every day", "rate(1 week)"],
)
def test_unsupported_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        next_fire_time(expression, START, START)
