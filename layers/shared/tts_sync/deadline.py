"""Deadlines: the seconds a caller may still spend, as a function (e.g. from the Lambda context).

Kept apart from tts_sync.tiktok (which re-exports them) so that functions that never call
TikTok, such as the ops function, can use them without importing the HTTP client.
"""

from __future__ import annotations

from collections.abc import Callable

# Remaining seconds the caller may still spend (e.g. from Lambda's get_remaining_time_in_millis).
Deadline = Callable[[], float]


def deadline_from_lambda_context(context: object, reserve_seconds: float = 1.0) -> Deadline:
    """A deadline that keeps `reserve_seconds` for the handler to report and return."""
    remaining_ms: Callable[[], int] = context.get_remaining_time_in_millis  # type: ignore[attr-defined]
    return lambda: remaining_ms() / 1000.0 - reserve_seconds


def deadline_after(seconds: float, clock: Callable[[], float]) -> Deadline:
    """A deadline `seconds` from now on `clock`."""
    end = clock() + seconds
    return lambda: end - clock()
