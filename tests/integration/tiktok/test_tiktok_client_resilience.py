"""Retries, back-off, deadlines and token refresh, driven by the sandbox's fault injection.
Sleeps are recorded, not slept (FakeSleep); the random draw is fixed at 0.5 unless stated."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from tts_local.sandbox import DemoData, Sandbox
from tts_sync.tiktok import (
    AccessTokenExpiredError,
    BackoffPolicy,
    InMemoryRateLimiter,
    RateLimitedError,
    ShopAccess,
    TikTokClient,
    TikTokOutcomeUnknownError,
    TikTokPermanentError,
    TikTokRetryableError,
    TikTokTransportError,
)
from tts_sync.tiktok.ratelimit import BucketPolicy

ClientFactory = Callable[..., TikTokClient]
WAREHOUSES = "/logistics/202309/warehouses"


def attempts(sandbox: Sandbox, path: str = WAREHOUSES) -> list[int]:
    return [r["status"] for r in sandbox.requests(path) if r["path"] == path]


def test_5xx_is_retried_with_exponential_full_jitter(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess, fake_sleep: Any
) -> None:
    sandbox.inject_fault(WAREHOUSES, "5xx", count=3, status=500, code=36009003)
    assert client.get_warehouses(shop)
    assert attempts(sandbox) == [500, 500, 500, 200]
    assert fake_sleep.sleeps == [0.5, 1.0, 2.0]  # draw 0.5 x ceilings 1, 2, 4


@pytest.mark.parametrize("draw", [0.0, 0.3, 0.999])
def test_jitter_is_uniform_below_the_ceiling(
    make_client: ClientFactory, sandbox: Sandbox, shop: ShopAccess, fake_sleep: Any, draw: float
) -> None:
    client = make_client(random=lambda: draw)
    sandbox.inject_fault(WAREHOUSES, "5xx", count=4)
    client.get_warehouses(shop)
    assert fake_sleep.sleeps == pytest.approx([draw * c for c in (1, 2, 4, 8)])


def test_html_503_from_a_load_balancer_is_retried(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess
) -> None:
    sandbox.inject_fault(WAREHOUSES, "5xx", count=1, status=503)  # no envelope, text/html
    assert client.get_warehouses(shop)
    assert attempts(sandbox) == [503, 200]


def test_timeout_is_retried(
    make_client: ClientFactory, sandbox: Sandbox, shop: ShopAccess, fake_sleep: Any
) -> None:
    client = make_client(config={"read_timeout": 0.2})
    sandbox.inject_fault(WAREHOUSES, "timeout", count=1, sleep_seconds=0.6)
    assert client.get_warehouses(shop)
    assert len(fake_sleep.sleeps) == 1
    # The sandbox logs the abandoned request when its sleep ends.
    give_up = time.monotonic() + 2
    while len(attempts(sandbox)) < 2 and time.monotonic() < give_up:
        time.sleep(0.05)
    assert sorted(attempts(sandbox)) == [200, 504]


def test_429_honours_retry_after_and_slows_the_shop_down(
    make_client: ClientFactory, sandbox: Sandbox, shop: ShopAccess, fake_sleep: Any
) -> None:
    limiter = InMemoryRateLimiter(BucketPolicy(rate_per_second=100, burst=100))
    client = make_client(limiter=limiter)
    sandbox.inject_fault(WAREHOUSES, "429", count=1, retry_after=7)
    assert client.get_warehouses(shop)
    assert attempts(sandbox) == [429, 200]
    assert fake_sleep.sleeps == [7.0]  # Retry-After beats the 0.5 s jitter draw
    state = limiter.state(shop.shop_id)
    assert state is not None and state.factor == pytest.approx(0.5)


def test_sandbox_throttling_gives_up_at_the_deadline_with_the_429(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess, fake_sleep: Any
) -> None:
    sandbox.set_shop_qps(shop.shop_id, 0.001)
    client.get_warehouses(shop)  # the one-call burst
    with pytest.raises(RateLimitedError) as throttled:
        client.get_warehouses(shop, deadline=fake_sleep.deadline(5))
    assert (throttled.value.code, throttled.value.http_status) == (36009002, 429)
    assert fake_sleep.sleeps == [0.5, 1.0, 2.0]  # the next (4 s) would overrun 5 s
    assert attempts(sandbox) == [200, 429, 429, 429, 429]


def test_permanent_errors_are_not_retried(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess, fake_sleep: Any
) -> None:
    with pytest.raises(TikTokPermanentError) as error:
        client.get_package_detail(shop, "123")
    assert (error.value.code, error.value.http_status) == (36009404, 404)
    assert error.value.request_id
    assert len(sandbox.requests("/fulfillment/")) == 1 and fake_sleep.sleeps == []


@pytest.mark.parametrize(
    ("mutation", "code"),
    [
        ({"shop_cipher": "ROW_unknown"}, 36009004),
        ({"access_token": "not-a-token"}, 36009004),
    ],
)
def test_rejected_credentials_are_permanent(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess, mutation: dict[str, str], code: int
) -> None:
    bad = ShopAccess(
        shop.shop_id,
        mutation.get("shop_cipher", shop.shop_cipher),
        mutation.get("access_token", shop.access_token),
    )
    with pytest.raises(TikTokPermanentError) as error:
        client.get_warehouses(bad)
    assert error.value.code == code
    assert len(sandbox.requests()) == 1


def test_deadline_bounds_retries_and_raises_the_last_retryable_error(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess, fake_sleep: Any
) -> None:
    sandbox.inject_fault(WAREHOUSES, "5xx", count=100, status=503, code=36009003)
    with pytest.raises(TikTokRetryableError) as error:
        client.get_warehouses(shop, deadline=fake_sleep.deadline(10))
    assert (error.value.http_status, error.value.code) == (503, 36009003)
    assert fake_sleep.elapsed <= 10
    # 0.5+1+2+4 = 7.5 s slept; the next delay (8 s) would overrun the 10 s budget.
    assert fake_sleep.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert len(attempts(sandbox)) == 5


def test_max_attempts_bounds_retries(
    make_client: ClientFactory, sandbox: Sandbox, shop: ShopAccess
) -> None:
    client = make_client(backoff=BackoffPolicy(max_attempts=3))
    sandbox.inject_fault(WAREHOUSES, "5xx", count=100)
    with pytest.raises(TikTokRetryableError):
        client.get_warehouses(shop)
    assert len(attempts(sandbox)) == 3


def test_connection_refused_is_retried_until_the_deadline(
    make_client: ClientFactory, shop: ShopAccess, fake_sleep: Any
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = make_client(config={"api_base_url": dead_url})
    with pytest.raises(TikTokTransportError):
        client.get_warehouses(shop, deadline=fake_sleep.deadline(3))
    assert fake_sleep.sleeps == [0.5, 1.0]


def test_expired_token_is_refreshed_once_then_retried(
    make_client: ClientFactory, sandbox: Sandbox, demo: DemoData, shop: ShopAccess
) -> None:
    fresh = sandbox.issue_token([demo.shop.id])
    refreshed: list[str] = []

    def refresher(expired: str) -> str:
        refreshed.append(expired)
        return fresh.access_token

    client = make_client(token_refresher=refresher)
    sandbox.expire_access_token(shop.access_token)
    assert client.get_warehouses(shop)
    assert refreshed == [shop.access_token]
    tokens = [r["headers"]["x-tts-access-token"] for r in sandbox.requests(WAREHOUSES)]
    assert tokens == [shop.access_token, fresh.access_token]
    assert [r["code"] for r in sandbox.requests(WAREHOUSES)] == [105002, 0]


def test_token_refresh_happens_at_most_once(
    make_client: ClientFactory, sandbox: Sandbox, shop: ShopAccess
) -> None:
    calls: list[str] = []

    def refresher(expired: str) -> str:
        calls.append(expired)
        return shop.access_token

    client = make_client(token_refresher=refresher)
    sandbox.inject_fault(WAREHOUSES, "token_expired", count=2)
    with pytest.raises(AccessTokenExpiredError) as error:
        client.get_warehouses(shop)
    assert error.value.code == 105002 and len(calls) == 1
    assert len(sandbox.requests(WAREHOUSES)) == 2


def test_expired_token_without_refresher_fails_fast(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess
) -> None:
    sandbox.inject_fault(WAREHOUSES, "token_expired")
    with pytest.raises(AccessTokenExpiredError):
        client.get_warehouses(shop)
    assert len(sandbox.requests(WAREHOUSES)) == 1


class SpyLimiter:
    def __init__(self) -> None:
        self.acquired: list[str] = []
        self.throttled: list[str] = []

    def acquire(self, shop_id: str, deadline: Callable[[], float]) -> None:
        self.acquired.append(shop_id)

    def report_throttled(self, shop_id: str) -> None:
        self.throttled.append(shop_id)


def test_limiter_is_consulted_before_every_shop_scoped_attempt(
    make_client: ClientFactory, sandbox: Sandbox, demo: DemoData, shop: ShopAccess
) -> None:
    spy = SpyLimiter()
    client = make_client(limiter=spy)
    client.get_authorized_shops(shop.access_token)
    assert spy.acquired == []  # not shop-scoped
    sandbox.inject_fault(WAREHOUSES, "429", count=2)
    client.get_warehouses(shop)
    assert spy.acquired == [shop.shop_id] * 3
    assert spy.throttled == [shop.shop_id] * 2


def test_token_host_retries_only_what_tiktok_certainly_did_not_process(
    make_client: ClientFactory, sandbox: Sandbox, demo: DemoData
) -> None:
    # Token calls are not idempotent (single-use auth code, refresh tokens that may rotate):
    # a 429 is retried, a 5xx is an unknown outcome and is not resent (issue 11).
    client = make_client()
    sandbox.inject_fault("/api/v2/token/refresh", "429", count=1)
    refreshed = client.refresh_access_token(demo.grant.refresh_token)
    assert refreshed.access_token
    sandbox.inject_fault("/api/v2/token/refresh", "5xx", count=1, status=503, code=36009003)
    with pytest.raises(TikTokOutcomeUnknownError):
        client.refresh_access_token(demo.grant.refresh_token)
    attempts = [entry["status"] for entry in sandbox.requests("/api/v2/token/refresh")]
    assert attempts == [429, 200, 503]
