"""The DynamoDB limiter when DynamoDB itself fails (no network: a fake client raises botocore's
errors): callers see the client's retryable error family, and a failed 429 report never hides
TikTok's 429."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tts_sync.tiktok import ShopAccess, TikTokApiConfig, TikTokClient
from tts_sync.tiktok.errors import (
    RateLimitedError,
    RateLimiterUnavailableError,
    TikTokRetryableError,
)
from tts_sync.tiktok.ratelimit import BucketPolicy
from tts_sync.tiktok.ratelimit_dynamo import DynamoRateLimiter

SHOP = ShopAccess("shop-1", "ROW_c", "TTP_token_value")
THROTTLED = ClientError(
    {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
    "GetItem",
)


class FakeDynamo:
    """get_item/put_item on one dict; get_item calls whose index is in `failing_reads` raise."""

    def __init__(self, failing_reads: set[int] | None = None, error: Exception = THROTTLED) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.failing_reads = failing_reads or set()
        self.error = error
        self.reads = 0

    def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        index, self.reads = self.reads, self.reads + 1
        if index in self.failing_reads:
            raise self.error
        item = self.items.get(Key["pk"]["S"])
        return {"Item": item} if item else {}

    def put_item(self, *, TableName: str, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.items[Item["pk"]["S"]] = Item  # no concurrency here: conditions always hold
        return {}


def limiter_on(fake: FakeDynamo) -> DynamoRateLimiter:
    now = [1_000.0]
    return DynamoRateLimiter(
        "rate-limit",
        BucketPolicy(rate_per_second=100, burst=10),
        client=fake,  # type: ignore[arg-type]
        clock=lambda: now[0],
        sleep=lambda seconds: now.__setitem__(0, now[0] + seconds),
    )


def client_on(limiter: DynamoRateLimiter, replies: list[httpx.Response]) -> TikTokClient:
    answers = iter(replies)
    return TikTokClient(
        "key",
        "secret",
        config=TikTokApiConfig(api_base_url="http://api.test", auth_base_url="http://auth.test"),
        limiter=limiter,
        http=httpx.Client(transport=httpx.MockTransport(lambda _: next(answers))),
        sleep=lambda _: None,
        random=lambda: 0.0,
    )


def ok() -> httpx.Response:
    body = {"code": 0, "message": "Success", "request_id": "rid", "data": {"warehouses": []}}
    return httpx.Response(200, json=body)


def throttled() -> httpx.Response:
    body = {"code": 36009002, "message": "too many", "request_id": "rid", "data": {}}
    return httpx.Response(429, json=body)


@pytest.mark.parametrize(
    "error",
    [THROTTLED, EndpointConnectionError(endpoint_url="http://dynamodb.test")],
    ids=["service-error", "botocore-error"],
)
def test_storage_failure_in_acquire_is_a_retryable_tiktok_error(error: Exception) -> None:
    limiter = limiter_on(FakeDynamo(failing_reads={0}, error=error))
    with pytest.raises(RateLimiterUnavailableError) as raised:
        limiter.acquire("shop-1", lambda: 60.0)
    assert isinstance(raised.value, TikTokRetryableError)
    assert raised.value.__cause__ is error


def test_storage_failure_in_report_throttled_is_logged_and_swallowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = limiter_on(FakeDynamo(failing_reads={0}))
    with caplog.at_level(logging.WARNING):
        limiter.report_throttled("shop-1")  # must not raise
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.__dict__["shop_id"] == "shop-1"  # logged with keys
    assert record.__dict__["error"] == "ProvisionedThroughputExceededException"


def test_a_failed_throttling_report_does_not_hide_tiktoks_429() -> None:
    # Reads: 0 acquire, 1 report_throttled (fails), 2 acquire, 3 report_throttled (fails), ...
    fake = FakeDynamo(failing_reads={1, 3, 5, 7, 9, 11, 13, 15})
    client = client_on(limiter_on(fake), [throttled()] * 8)
    with pytest.raises(RateLimitedError):
        client.get_warehouses(SHOP, deadline=lambda: 60.0)


def test_a_429_whose_report_failed_is_still_retried() -> None:
    fake = FakeDynamo(failing_reads={1})
    client = client_on(limiter_on(fake), [throttled(), ok()])
    assert client.get_warehouses(SHOP, deadline=lambda: 60.0) == []


def test_the_client_retries_a_call_whose_rate_limiter_read_failed() -> None:
    fake = FakeDynamo(failing_reads={0})
    client = client_on(limiter_on(fake), [ok()])
    assert client.get_warehouses(SHOP, deadline=lambda: 60.0) == []
    assert fake.reads == 2  # the failed acquire, then the one that let the call through
