"""Tokens in blocks (TTS_SHOP_TOKEN_BLOCK): one conditional write reserves several slots of the
shared per-shop budget. The budget still holds across containers (two limiters on one table,
real clock, upper bounds only), the slots are exactly the bucket's (virtual clock), the writes
are divided by the block, and a 429 drops the slots a container holds."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.integration.tiktok.test_tiktok_ratelimit_dynamo import (
    FakeClock,
    forever,
    hammer,
    max_in_window,
    table,  # noqa: F401 - the fixture
)
from tts_sync.tiktok.ratelimit import BucketPolicy
from tts_sync.tiktok.ratelimit_dynamo import DynamoRateLimiter, RateLimitConfig


def test_two_containers_taking_blocks_never_exceed_the_shared_budget(table: str) -> None:  # noqa: F811
    rate, burst, workers, seconds = 20.0, 4.0, 3, 2.0
    policy = BucketPolicy(rate_per_second=rate, burst=burst)
    grants: list[float] = []
    lock = threading.Lock()

    def container() -> None:
        limiter = DynamoRateLimiter(table, policy, block=5)
        found = hammer(limiter, "shop-1", workers=workers, seconds=seconds)
        with lock:
            grants.extend(found)

    threads = [threading.Thread(target=container) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    grants.sort()
    assert grants
    # + one block per container: the warm-up's leftover slots may be spent in the window.
    assert len(grants) <= burst + rate * seconds + 1 + 2 * 5
    assert max_in_window(grants, 1.0) <= burst + rate + 1 + 2 * workers + 2 * 5


class CountingClient:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.puts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_item(self, **kwargs: Any) -> Any:
        self.puts += 1
        return self._client.put_item(**kwargs)


def test_a_block_spends_the_buckets_own_slots_with_one_write(table: str) -> None:  # noqa: F811
    from tts_sync.aws import dynamodb_client

    rate, burst = 10.0, 1
    clock = FakeClock()
    client = CountingClient(dynamodb_client())
    limiter = DynamoRateLimiter(
        table,
        BucketPolicy(rate_per_second=rate, burst=burst),
        client=client,  # type: ignore[arg-type]
        clock=clock.clock,
        sleep=clock.sleep,
        block=5,
    )
    start = clock.now
    for _ in range(21):
        limiter.acquire("shop-1", forever)
    # 1 banked token, then one every 1/rate: the 21st call at 2 s, as with single tokens.
    assert clock.now - start == pytest.approx(2.0, abs=1e-6)
    assert client.puts == 5  # 21 calls, blocks of 5: five writes instead of 21


def test_a_429_drops_the_slots_a_container_holds(table: str) -> None:  # noqa: F811
    clock = FakeClock()
    limiter = DynamoRateLimiter(
        table,
        BucketPolicy(rate_per_second=10.0, burst=1),
        clock=clock.clock,
        sleep=clock.sleep,
        block=5,
    )
    limiter.acquire("shop-1", forever)
    assert len(limiter._slots["shop-1"]) == 4
    limiter.report_throttled("shop-1")
    assert "shop-1" not in limiter._slots


def test_the_block_is_a_setting() -> None:
    config = RateLimitConfig.model_validate(
        {"RATE_LIMIT_TABLE_NAME": "t", "TTS_SHOP_TOKEN_BLOCK": "5"}
    )
    assert config.block == 5
    assert RateLimitConfig.model_validate({"RATE_LIMIT_TABLE_NAME": "t"}).block == 1


def test_threads_of_one_container_refill_one_at_a_time_instead_of_racing(
    table: str,  # noqa: F811
) -> None:
    """16 threads wanting a call at once: one refills while the others wait for its slots, so
    every write is a block for this container (no lost races, no reads wasted on them)."""
    from tts_sync.aws import dynamodb_client

    client = CountingClient(dynamodb_client())
    limiter = DynamoRateLimiter(
        table,
        BucketPolicy(rate_per_second=400.0, burst=1),
        client=client,  # type: ignore[arg-type]
        block=5,
    )
    start = threading.Barrier(16)

    def caller() -> None:
        start.wait()
        for _ in range(5):
            limiter.acquire("shop-1", forever)

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 80 calls in blocks of 5: 16 writes; racing refillers would write (and lose) far more.
    assert client.puts <= 16 + 1
