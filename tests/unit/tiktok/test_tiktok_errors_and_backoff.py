"""The retryable/permanent split and the back-off arithmetic, with plain numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tts_sync.tiktok.errors import (
    AccessTokenExpiredError,
    RateLimitedError,
    TikTokPermanentError,
    TikTokRetryableError,
    error_from_response,
)
from tts_sync.tiktok.retry import BackoffPolicy, deadline_after, deadline_from_lambda_context


@pytest.mark.parametrize(
    ("http_status", "code", "expected"),
    [
        (429, 36009002, RateLimitedError),
        (200, 36009002, RateLimitedError),
        (429, None, RateLimitedError),
        (503, None, TikTokRetryableError),
        (500, 36009003, TikTokRetryableError),
        (200, 36009003, TikTokRetryableError),
        (504, 36009007, TikTokRetryableError),
        (200, 36009007, TikTokRetryableError),
        (401, 105002, AccessTokenExpiredError),
        (401, 106001, TikTokPermanentError),
        (400, 36009004, TikTokPermanentError),
        (400, 106013, TikTokPermanentError),
        (403, 105005, TikTokPermanentError),
        (404, 12345, TikTokPermanentError),
    ],
)
def test_error_mapping(http_status: int, code: int | None, expected: type) -> None:
    error = error_from_response(code=code, message="m", request_id="rid", http_status=http_status)
    assert type(error) is expected
    assert (error.code, error.request_id, error.http_status) == (code, "rid", http_status)
    retryable = isinstance(error, TikTokRetryableError)
    assert retryable != isinstance(error, TikTokPermanentError)


def test_access_token_expired_is_permanent_for_callers() -> None:
    error = error_from_response(code=105002, message="m", request_id=None, http_status=401)
    assert isinstance(error, TikTokPermanentError)


@given(attempt=st.integers(0, 40), draw=st.floats(0, 1, exclude_max=True))
def test_full_jitter_delay_is_within_zero_and_capped_ceiling(attempt: int, draw: float) -> None:
    policy = BackoffPolicy(base_seconds=1.0, cap_seconds=60.0)
    delay = policy.delay(attempt, lambda: draw)
    assert 0.0 <= delay <= min(60.0, 2.0**attempt)


def test_ceiling_doubles_from_one_second_up_to_the_cap() -> None:
    policy = BackoffPolicy()
    assert [policy.ceiling(a) for a in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]


@given(draw=st.floats(0, 1, exclude_max=True), retry_after=st.floats(0, 120))
def test_retry_after_is_a_floor_but_never_beyond_the_cap(draw: float, retry_after: float) -> None:
    delay = BackoffPolicy().delay(0, lambda: draw, retry_after)
    assert delay >= min(retry_after, 60.0)
    assert delay <= max(1.0, min(retry_after, 60.0))


def test_deadlines() -> None:
    now = [100.0]
    deadline = deadline_after(5.0, lambda: now[0])
    now[0] = 103.5
    assert deadline() == pytest.approx(1.5)

    class FakeContext:
        def get_remaining_time_in_millis(self) -> int:
            return 9_000

    assert deadline_from_lambda_context(FakeContext(), reserve_seconds=1.0)() == 8.0
