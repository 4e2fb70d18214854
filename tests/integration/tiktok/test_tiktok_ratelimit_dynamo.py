"""The shared per-shop budget in DynamoDB, against a moto server over HTTP: concurrent workers
in threads never exceed it, and a 429 slows every worker down.

The real clock checks only upper bounds (safety); throughput and recovery run on an injected
clock, so a loaded CI machine cannot make them flaky."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest

from tts_sync.aws import dynamodb_client
from tts_sync.tiktok.errors import RateLimitWaitExceededError
from tts_sync.tiktok.ratelimit import BucketPolicy
from tts_sync.tiktok.ratelimit_dynamo import DynamoRateLimiter


@pytest.fixture
def table(aws_endpoint: str) -> str:
    name = f"rate-limit-{uuid.uuid4().hex[:8]}"
    dynamodb_client().create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    return name


def forever() -> float:
    return 60.0


def hammer(limiter: DynamoRateLimiter, shop_id: str, workers: int, seconds: float) -> list[float]:
    """`workers` threads acquire as fast as the limiter lets them; returns grant times."""
    limiter.acquire(f"warm-up-{shop_id}", forever)  # boto3 client creation is slow; not timed
    grants: list[float] = []
    lock = threading.Lock()
    stop_at = time.time() + seconds

    def work() -> None:
        while True:
            remaining: Callable[[], float] = lambda: stop_at - time.time()  # noqa: E731
            try:
                limiter.acquire(shop_id, remaining)
            except RateLimitWaitExceededError:
                return
            granted = time.time()
            if granted > stop_at:
                return
            with lock:
                grants.append(granted)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(grants)


def max_in_window(grants: list[float], window: float) -> int:
    best, start = 0, 0
    for end, granted in enumerate(grants):
        while granted - grants[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class FakeClock:
    """Virtual time for throughput and recovery checks: `sleep` advances `now` exactly, so the
    numbers do not depend on how loaded the machine is."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def on_fake_clock(table: str, policy: BucketPolicy, clock: FakeClock) -> DynamoRateLimiter:
    return DynamoRateLimiter(table, policy, clock=clock.clock, sleep=clock.sleep)


def test_concurrent_workers_never_exceed_the_shared_budget(table: str) -> None:
    # Safety on the real clock, with real threads and real conditional writes. Only upper
    # bounds: a loaded machine grants fewer calls, never more. A grant is stamped after acquire
    # returns, so each worker may carry at most one late stamp into a window: hence `+ workers`.
    rate, burst, workers, seconds = 20.0, 4.0, 6, 2.0
    limiter = DynamoRateLimiter(table, BucketPolicy(rate_per_second=rate, burst=burst))
    grants = hammer(limiter, "shop-1", workers=workers, seconds=seconds)
    assert grants  # the workers got somewhere
    assert len(grants) <= burst + rate * seconds + 1
    assert max_in_window(grants, 1.0) <= burst + rate + 1 + workers


def test_the_budget_is_used_in_full(table: str) -> None:
    # Throughput on virtual time: the burst at once, then exactly `rate` calls a second.
    rate, burst, seconds = 16.0, 4, 2.0
    clock = FakeClock()
    limiter = on_fake_clock(table, BucketPolicy(rate_per_second=rate, burst=burst), clock)
    start = clock.now
    for _ in range(burst):
        limiter.acquire("shop-1", forever)
    assert clock.sleeps == []  # the banked tokens cost no wait
    granted = burst
    while True:
        limiter.acquire("shop-1", forever)
        if clock.now - start > seconds + 1e-6:
            break
        granted += 1
    assert granted == pytest.approx(burst + rate * seconds, abs=1)
    assert clock.sleeps[0] == pytest.approx(1 / rate)  # one token's worth, not more


def test_shops_do_not_share_budgets(table: str) -> None:
    clock = FakeClock()
    limiter = on_fake_clock(table, BucketPolicy(rate_per_second=1, burst=1), clock)
    limiter.acquire("a", forever)
    limiter.acquire("b", forever)  # b's bucket is full although a's is empty
    assert clock.sleeps == []
    limiter.acquire("a", forever)  # a's own budget is spent: it waits for the next token
    assert clock.sleeps == [pytest.approx(1.0)]


def test_wait_beyond_the_deadline_raises(table: str) -> None:
    limiter = DynamoRateLimiter(table, BucketPolicy(rate_per_second=0.5, burst=1))
    limiter.acquire("shop", forever)
    with pytest.raises(RateLimitWaitExceededError):
        limiter.acquire("shop", lambda: 0.5)


def test_throttling_halves_the_rate_for_every_worker_and_is_stored(table: str) -> None:
    # Throughput on virtual time: after another container's 429 report, 10/s instead of 20/s
    # (and the banked tokens are gone).
    policy = BucketPolicy(rate_per_second=20, burst=2, cooldown_seconds=30)
    clock = FakeClock()
    limiter = on_fake_clock(table, policy, clock)
    other_lambda = on_fake_clock(table, policy, clock)  # a second container, same table
    limiter.acquire("shop", forever)
    other_lambda.report_throttled("shop")
    start = clock.now
    for _ in range(15):
        limiter.acquire("shop", forever)
    assert clock.now - start == pytest.approx(15 / 10)
    item = dynamodb_client().get_item(TableName=table, Key={"pk": {"S": "ratelimit#shop"}})
    assert float(item["Item"]["factor"]["N"]) == pytest.approx(0.5)
    assert int(item["Item"]["expires_at"]["N"]) > clock.now + 3600  # TTL keeps the table tidy


def test_throttled_shop_stays_under_the_halved_budget_on_the_real_clock(table: str) -> None:
    # Safety with real threads: never more than the halved rate (upper bound only).
    policy = BucketPolicy(rate_per_second=20, burst=2, cooldown_seconds=30)
    limiter = DynamoRateLimiter(table, policy)
    limiter.acquire("shop", forever)
    DynamoRateLimiter(table, policy).report_throttled("shop")
    grants = hammer(limiter, "shop", workers=4, seconds=1.5)
    assert len(grants) <= 10 * 1.5 + 2


def test_rate_recovers_after_the_cooldown(table: str) -> None:
    now = [1_000_000.0]
    policy = BucketPolicy(rate_per_second=10, burst=1, cooldown_seconds=5, recovery_per_second=0.25)
    limiter = DynamoRateLimiter(
        table, policy, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    limiter.report_throttled("shop")
    now[0] += 5 + 1  # one second into recovery: 0.5 + 0.25
    limiter.acquire("shop", forever)
    item = dynamodb_client().get_item(TableName=table, Key={"pk": {"S": "ratelimit#shop"}})
    assert float(item["Item"]["factor"]["N"]) == pytest.approx(0.75)
    now[0] += 2
    limiter.acquire("shop", forever)
    item = dynamodb_client().get_item(TableName=table, Key={"pk": {"S": "ratelimit#shop"}})
    assert float(item["Item"]["factor"]["N"]) == pytest.approx(1.0)
