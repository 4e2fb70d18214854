"""Token bucket arithmetic and the adaptive slow-down, on a fake clock."""

from __future__ import annotations

import pytest

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


def test_repeated_throttling_is_floored() -> None:
    fake = FakeTime()
    bucket = limiter(BucketPolicy(rate_per_second=10, min_factor=0.1), fake)
    for _ in range(10):
        bucket.report_throttled("shop")
    state = bucket.state("shop")
    assert state is not None and state.factor == pytest.approx(0.1)
