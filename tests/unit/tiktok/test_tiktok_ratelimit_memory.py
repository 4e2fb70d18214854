"""Token bucket arithmetic and the adaptive slow-down, on a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts_sync.tiktok.errors import RateLimitWaitExceededError
from tts_sync.tiktok.ratelimit import BucketPolicy, InMemoryRateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(policy: BucketPolicy, fake: FakeTime) -> InMemoryRateLimiter:
    return InMemoryRateLimiter(policy, clock=fake.clock, sleep=fake.sleep)


def forever() -> float:
    return 1e9


def test_burst_then_steady_rate() -> None:
    fake = FakeTime()
    bucket = limiter(BucketPolicy(rate_per_second=10, burst=3), fake)
    start = fake.now
    for _ in range(3 + 20):
        bucket.acquire("shop", forever)
    # 3 banked, then 20 more at 10/s.
    assert fake.now - start == pytest.approx(2.0, abs=1e-6)


def test_shops_have_separate_budgets() -> None:
    fake = FakeTime()
    bucket = limiter(BucketPolicy(rate_per_second=1, burst=1), fake)
    bucket.acquire("a", forever)
    bucket.acquire("b", forever)
    assert fake.sleeps == []


def test_wait_beyond_deadline_raises_without_sleeping() -> None:
    fake = FakeTime()
    bucket = limiter(BucketPolicy(rate_per_second=1, burst=1), fake)
    bucket.acquire("shop", forever)
    with pytest.raises(RateLimitWaitExceededError):
        bucket.acquire("shop", lambda: 0.5)
    assert fake.sleeps == []


def test_throttle_halves_rate_for_cooldown_then_recovers_gradually() -> None:
    fake = FakeTime()
    policy = BucketPolicy(rate_per_second=10, burst=1, cooldown_seconds=5, recovery_per_second=0.1)
    bucket = limiter(policy, fake)
    bucket.acquire("shop", forever)
    bucket.report_throttled("shop")

    def time_for(calls: int) -> float:
        start = fake.now
        for _ in range(calls):
            bucket.acquire("shop", forever)
        return fake.now - start

    assert time_for(10) == pytest.approx(10 / 5, rel=0.05)  # 5/s during the cool-down
    state = bucket.state("shop")
    assert state is not None and state.factor == pytest.approx(0.5)
    fake.now += 3 + 6  # past the cool-down, 6 s of recovery at +10%/s
    bucket.acquire("shop", forever)
    state = bucket.state("shop")
    assert state is not None and state.factor == pytest.approx(1.0)


def test_a_burst_of_429s_halves_once() -> None:
    fake = FakeTime()
    bucket = limiter(BucketPolicy(rate_per_second=10), fake)
    for _ in range(6):  # six workers got a 429 for the same overshoot
        bucket.report_throttled("shop")
    state = bucket.state("shop")
    assert state is not None and state.factor == pytest.approx(0.5)


def test_repeated_throttling_is_floored() -> None:
    fake = FakeTime()
    bucket = limiter(BucketPolicy(rate_per_second=10, min_factor=0.1), fake)
    for _ in range(10):
        bucket.report_throttled("shop")
        fake.now += 2  # separate signals, each after the re-penalty window
    state = bucket.state("shop")
    assert state is not None and state.factor == pytest.approx(0.1)


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=60),
    rate=st.floats(1, 50),
    burst=st.integers(1, 10),
)
def test_grants_never_exceed_burst_plus_rate_in_any_window(
    gaps: list[float], rate: float, burst: int
) -> None:
    fake = FakeTime()
    bucket = limiter(BucketPolicy(rate_per_second=rate, burst=burst), fake)
    granted: list[float] = []
    for gap in gaps:
        fake.now += gap
        bucket.acquire("shop", forever)
        granted.append(fake.now)  # the caller proceeds once acquire returns
    for i, start in enumerate(granted):
        for j in range(i, len(granted)):
            window = granted[j] - start
            assert j - i + 1 <= burst + rate * window + 1e-6
