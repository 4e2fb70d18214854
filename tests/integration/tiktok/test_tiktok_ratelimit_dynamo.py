"""The shared per-shop budget in DynamoDB, against a moto server over HTTP: concurrent workers
in threads never exceed it, and a 429 slows every worker down."""

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


def test_concurrent_workers_never_exceed_the_shared_budget(table: str) -> None:
    rate, burst = 20.0, 4.0
    limiter = DynamoRateLimiter(table, BucketPolicy(rate_per_second=rate, burst=burst))
    grants = hammer(limiter, "shop-1", workers=6, seconds=2.0)
    elapsed = 2.0
    assert len(grants) <= burst + rate * elapsed + 1
    assert len(grants) >= 0.85 * (burst + rate * elapsed)  # and the budget is actually used
    assert max_in_window(grants, 1.0) <= burst + rate + 1


def test_shops_do_not_share_budgets(table: str) -> None:
    limiter = DynamoRateLimiter(table, BucketPolicy(rate_per_second=1, burst=1))
    limiter.acquire("a", forever)
    started = time.monotonic()
    limiter.acquire("b", forever)
    assert time.monotonic() - started < 0.5


def test_wait_beyond_the_deadline_raises(table: str) -> None:
    limiter = DynamoRateLimiter(table, BucketPolicy(rate_per_second=0.5, burst=1))
    limiter.acquire("shop", forever)
    with pytest.raises(RateLimitWaitExceededError):
        limiter.acquire("shop", lambda: 0.5)


def test_throttling_halves_the_rate_for_every_worker_and_is_stored(table: str) -> None:
    policy = BucketPolicy(rate_per_second=20, burst=2, cooldown_seconds=30)
    limiter = DynamoRateLimiter(table, policy)
    other_lambda = DynamoRateLimiter(table, policy)  # a second container, same table
    limiter.acquire("shop", forever)
    other_lambda.report_throttled("shop")
    grants = hammer(limiter, "shop", workers=4, seconds=1.5)
    # 10/s for 1.5 s (the banked tokens were spent by the 429), never the full 20/s.
    assert 0.7 * 10 * 1.5 <= len(grants) <= 10 * 1.5 + 2
    item = dynamodb_client().get_item(TableName=table, Key={"pk": {"S": "ratelimit#shop"}})
    assert float(item["Item"]["factor"]["N"]) == pytest.approx(0.5)
    assert int(item["Item"]["expires_at"]["N"]) > time.time() + 3600  # TTL keeps the table tidy


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
