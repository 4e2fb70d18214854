"""Which failures a call that must not be applied twice may retry (httpx.MockTransport, no
network), and which client methods are marked idempotent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tts_sync.tiktok import (
    ShopAccess,
    TikTokApiConfig,
    TikTokClient,
    TikTokNotSentError,
    TikTokOutcomeUnknownError,
    TikTokPermanentError,
    TikTokRetryableError,
    TikTokTransportError,
)
from tts_sync.tiktok.errors import (
    RateLimitedError,
    RateLimiterUnavailableError,
    RateLimitWaitExceededError,
    certainly_not_processed,
    error_from_response,
)
from tts_sync.tiktok.models import OrderSearchFilter, SkuPrice, SkuStock, StockLevel
from tts_sync.tiktok.transport import ApiResponse

SHOP = ShopAccess("1", "ROW_c", "TTP_token_value")
Handler = Callable[[httpx.Request], httpx.Response]


def client_with(handler: Handler, sleeps: list[float], **options: Any) -> TikTokClient:
    return TikTokClient(
        "key",
        "super-secret-value",
        config=TikTokApiConfig(api_base_url="http://api.test", auth_base_url="http://auth.test"),
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=sleeps.append,
        random=lambda: 1.0,
        **options,
    )


def ok(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "message": "ok", "request_id": "rid", "data": {}})


def failing_once(exc: type[httpx.TransportError]) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise exc("injected", request=request)
        return ok(request)

    return handler, seen


def ship(client: TikTokClient) -> None:
    client.ship_package(SHOP, "pkg1", "1Z1", "prov1")


def stock(client: TikTokClient) -> None:
    sku = SkuStock(sku_id="s1", levels=[StockLevel(warehouse_id="w1", quantity=1)])
    client.update_stock(SHOP, "p1", [sku])


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (error_from_response(code=36009002, message="m", request_id=None, http_status=429), True),
        (error_from_response(code=None, message="m", request_id=None, http_status=429), True),
        (TikTokNotSentError("refused"), True),
        (RateLimiterUnavailableError("dynamodb throttled"), True),
        (RateLimitWaitExceededError("no slot"), True),
        (error_from_response(code=None, message="m", request_id=None, http_status=503), False),
        (error_from_response(code=36009003, message="m", request_id=None, http_status=500), False),
        (error_from_response(code=36009007, message="m", request_id=None, http_status=200), False),
        (TikTokTransportError("timeout calling /x: ReadTimeout"), False),
    ],
)
def test_only_failures_tiktok_cannot_have_processed_are_safe_to_repeat(
    error: TikTokRetryableError, expected: bool
) -> None:
    assert certainly_not_processed(error) is expected


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.RemoteProtocolError]
)
def test_a_fulfilment_call_is_not_retried_after_the_request_may_have_left(
    exc: type[httpx.TransportError],
) -> None:
    handler, seen = failing_once(exc)
    sleeps: list[float] = []
    with pytest.raises(TikTokOutcomeUnknownError, match="may have been applied") as error:
        ship(client_with(handler, sleeps))
    assert isinstance(error.value, TikTokRetryableError)
    assert len(seen) == 1 and sleeps == []


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_a_fulfilment_call_is_retried_when_nothing_was_sent(
    exc: type[httpx.TransportError],
) -> None:
    handler, seen = failing_once(exc)
    sleeps: list[float] = []
    ship(client_with(handler, sleeps))
    assert len(seen) == 2 and sleeps == [1.0]


def test_not_sent_is_still_a_transport_error_for_existing_callers() -> None:
    assert issubclass(TikTokNotSentError, TikTokTransportError)
    assert issubclass(TikTokOutcomeUnknownError, TikTokRetryableError)
    assert not issubclass(TikTokOutcomeUnknownError, TikTokPermanentError)


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_idempotent_writes_still_retry_after_the_request_may_have_left(
    exc: type[httpx.TransportError],
) -> None:
    handler, seen = failing_once(exc)
    sleeps: list[float] = []
    stock(client_with(handler, sleeps))
    assert len(seen) == 2 and sleeps == [1.0]


def test_a_fulfilment_call_retries_after_a_throttle_then_stops_at_an_unknown_outcome() -> None:
    replies = iter(
        [
            httpx.Response(429, json={"code": 36009002, "message": "slow down"}),
            httpx.Response(503, text="<html>"),
        ]
    )
    sleeps: list[float] = []
    with pytest.raises(TikTokOutcomeUnknownError) as error:
        ship(client_with(lambda _: next(replies), sleeps))
    assert error.value.http_status == 503 and sleeps == [1.0]


class FlakyLimiter:
    """The shared limiter's storage fails once: no call was made."""

    def __init__(self) -> None:
        self.calls = 0

    def acquire(self, shop_id: str, deadline: Callable[[], float]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RateLimiterUnavailableError("ProvisionedThroughputExceededException")

    def report_throttled(self, shop_id: str) -> None:
        pass


def test_a_fulfilment_call_is_retried_when_the_limiter_was_unavailable() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(request)

    sleeps: list[float] = []
    limiter = FlakyLimiter()
    ship(client_with(handler, sleeps, limiter=limiter))
    assert limiter.calls == 2 and len(seen) == 1 and sleeps == [1.0]


def test_a_throttled_fulfilment_call_raises_the_throttle_not_an_unknown_outcome() -> None:
    sleeps: list[float] = []
    client = client_with(lambda _: httpx.Response(429, json={"code": 36009002}), sleeps)
    with pytest.raises(RateLimitedError):
        client.ship_package(SHOP, "pkg1", "1Z1", "prov1", deadline=lambda: 2.5 - sum(sleeps))


def test_each_client_method_declares_whether_it_may_be_repeated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = client_with(ok, [])
    seen: dict[str, bool] = {}

    def spy(method: str, path: str, **kwargs: Any) -> ApiResponse:
        seen[f"{method} {path}"] = kwargs.get("idempotent", True)
        return ApiResponse(data={"package_id": "p"}, request_id="rid")

    monkeypatch.setattr(client, "call", spy)
    ship(client)
    client.mark_shipped(SHOP, "o1", "1Z1", "prov1")
    client.update_shipping_info(SHOP, "pkg1", "1Z2", "prov1")
    stock(client)
    client.update_price(SHOP, "p1", [SkuPrice(sku_id="s1", amount="1.00", currency="USD")])
    client.update_event_webhook(SHOP, "ORDER_STATUS_CHANGE", "https://x.test/hook")
    client.delete_event_webhook(SHOP, "ORDER_STATUS_CHANGE")
    client.search_orders_page(SHOP, OrderSearchFilter())
    client.get_warehouses(SHOP)
    assert {key for key, idempotent in seen.items() if not idempotent} == {
        "POST /fulfillment/202309/packages/pkg1/ship",
        "POST /fulfillment/202309/orders/o1/packages",
        "POST /fulfillment/202309/packages/pkg1/shipping_info/update",
    }
    assert len(seen) == 9
