"""The shared limiter item in DynamoDB (moto server over HTTP) when it is damaged or written by a
Lambda whose clock lags: a malformed item is treated as a fresh bucket (logged) and rewritten,
never a raw KeyError that blocks the shop for good; `updated_at` never moves backwards, so no
caller is credited the same interval twice."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from tts_sync.aws import dynamodb_client
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


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def forever() -> float:
    return 60.0


def stored(table: str, shop_id: str) -> dict[str, Any]:
    item = dynamodb_client().get_item(
        TableName=table, Key={"pk": {"S": f"ratelimit#{shop_id}"}}, ConsistentRead=True
    )
    return item["Item"]


GOOD = {
    "tokens": {"N": "0.5"},
    "updated_at": {"N": "1000000.0"},
    "factor": {"N": "1.0"},
    "cooldown_until": {"N": "0"},
    "version": {"N": "3"},
}


@pytest.mark.parametrize(
    "damage",
    [
        {"drop": ["factor"]},
        {"drop": ["factor", "cooldown_until", "tokens"]},
        {"set": {"factor": {"S": "not a number"}}},
        {"set": {"updated_at": {"NULL": True}}},
        {"drop": ["version"]},
        {"set": {"version": {"S": "three"}}},
    ],
    ids=[
        "no-factor",
        "only-updated-at",
        "factor-a-string",
        "updated-at-null",
        "no-version",
        "bad-ver",
    ],
)
def test_a_malformed_limiter_item_is_treated_as_fresh_and_repaired(
    table: str, damage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    item: dict[str, Any] = {"pk": {"S": "ratelimit#shop-1"}, **GOOD}
    for name in damage.get("drop", []):
        item.pop(name)
    item.update(damage.get("set", {}))
    dynamodb_client().put_item(TableName=table, Item=item)
    clock = FakeClock(1_000_010.0)
    limiter = DynamoRateLimiter(
        table, BucketPolicy(rate_per_second=1, burst=2), clock=clock.clock, sleep=clock.sleep
    )
    with caplog.at_level(logging.WARNING):
        limiter.acquire("shop-1", forever)  # no KeyError / ValueError
    assert "unreadable" in caplog.text
    repaired = stored(table, "shop-1")
    assert {"tokens", "updated_at", "factor", "cooldown_until", "version"} <= set(repaired)
    assert float(repaired["factor"]["N"]) == 1.0
    assert float(repaired["tokens"]["N"]) == pytest.approx(1.0)  # a fresh burst of 2, minus 1
    # And the shop keeps working from the repaired item: the next call reads it normally.
    caplog.clear()
    limiter.acquire("shop-1", forever)
    limiter.acquire("shop-1", forever)
    assert clock.sleeps == [pytest.approx(1.0)]
    assert "unreadable" not in caplog.text


def test_a_lagging_clock_never_moves_the_bucket_backwards(table: str) -> None:
    policy = BucketPolicy(rate_per_second=1, burst=1)
    ahead, behind = FakeClock(1_000_100.0), FakeClock(1_000_090.0)  # two Lambdas, 10 s apart
    on_time = DynamoRateLimiter(table, policy, clock=ahead.clock, sleep=ahead.sleep)
    lagging = DynamoRateLimiter(table, policy, clock=behind.clock, sleep=behind.sleep)
    on_time.acquire("shop-1", forever)  # the burst's one token
    lagging.acquire("shop-1", forever)  # none banked: reserves the next second, waits for it
    assert behind.sleeps == [pytest.approx(1.0)]
    assert float(stored(table, "shop-1")["updated_at"]["N"]) == pytest.approx(1_000_100.0)
    # One second later on the good clock: that second was already reserved by the lagging
    # caller, so this one waits for the next. Credited again from the lagging stamp, it would
    # have been handed 10 s of tokens and gone straight through.
    ahead.now += 1.0
    on_time.acquire("shop-1", forever)
    assert ahead.sleeps == [pytest.approx(1.0)]
