"""Transport edge cases with httpx.MockTransport (no network), and model parsing rules."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import ValidationError

from tts_sync.tiktok import (
    ShopAccess,
    TikTokApiConfig,
    TikTokClient,
    TikTokPermanentError,
    TikTokRequestRejectedError,
    TikTokRetryableError,
)
from tts_sync.tiktok.models import ItemOutcome, Order, SkuStock, StockLevel

SHOP = ShopAccess("1", "ROW_c", "TTP_token_value")


def client_with(
    handler: Callable[[httpx.Request], httpx.Response], sleeps: list[float]
) -> TikTokClient:
    return TikTokClient(
        "key",
        "super-secret-value",
        config=TikTokApiConfig(api_base_url="http://api.test", auth_base_url="http://auth.test"),
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=sleeps.append,
        random=lambda: 1.0,
    )


def envelope(code: int, data: object = None, status: int = 200) -> httpx.Response:
    body = {"code": code, "message": "m", "request_id": "rid", "data": data or {}}
    return httpx.Response(status, json=body)


def test_retryable_code_in_an_http_200_is_retried() -> None:
    replies = iter([envelope(36009003), envelope(0, {"warehouses": []})])
    sleeps: list[float] = []
    assert client_with(lambda _: next(replies), sleeps).get_warehouses(SHOP) == []
    assert sleeps == [1.0]


def test_unreadable_success_is_permanent_and_unreadable_5xx_retryable() -> None:
    sleeps: list[float] = []
    with pytest.raises(TikTokPermanentError):
        client_with(lambda _: httpx.Response(200, text="<html>"), sleeps).get_warehouses(SHOP)
    replies = iter([httpx.Response(502, text="bad gateway"), envelope(0, {"warehouses": []})])
    client_with(lambda _: next(replies), sleeps).get_warehouses(SHOP)
    assert sleeps == [1.0]


def test_http_date_retry_after_falls_back_to_backoff() -> None:
    replies = iter(
        [
            httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}),
            envelope(0, {"warehouses": []}),
        ]
    )
    sleeps: list[float] = []
    client_with(lambda _: next(replies), sleeps).get_warehouses(SHOP)
    assert sleeps == [1.0]


def test_body_bytes_sent_are_the_bytes_signed_and_compact() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope(0)

    client_with(handler, []).update_event_webhook(SHOP, "ORDER_STATUS_CHANGE", "https://é.test")
    [request] = seen
    assert (
        request.content
        == '{"address":"https://é.test","event_type":"ORDER_STATUS_CHANGE"}'.encode()
    )
    assert request.headers["x-tts-access-token"] == SHOP.access_token
    assert request.url.params["shop_cipher"] == "ROW_c"


def test_token_calls_go_to_the_auth_host_and_secrets_stay_out_of_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope(36009004, status=400)

    with pytest.raises(TikTokPermanentError):
        client_with(handler, []).refresh_access_token("TTR_refresh_value")
    assert seen[0].url.host == "auth.test" and seen[0].url.path == "/api/v2/token/refresh"
    assert seen[0].url.params["grant_type"] == "refresh_token"
    output = capsys.readouterr()
    for secret in ("super-secret-value", "TTR_refresh_value", SHOP.access_token):
        assert secret not in output.out + output.err


def test_transport_errors_are_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sleeps: list[float] = []
    client = client_with(handler, sleeps)
    with pytest.raises(TikTokRetryableError):
        client.get_warehouses(SHOP, deadline=lambda: 2.5 - sum(sleeps))
    assert sleeps == [1.0]


def test_order_model_normalises_cancel_and_numeric_ids() -> None:
    order = Order.model_validate(
        {
            "id": 576,
            "status": "CANCEL",
            "create_time": 1,
            "update_time": 2,
            "line_items": [{"id": 9, "sku_id": 10, "product_id": 11}],
            "unknown_new_field": True,
        }
    )
    assert order.id == "576" and order.status == "CANCELLED"
    assert order.line_items[0].sku_id == "10"
    assert "recipient_address" not in repr(order)


def test_item_outcome_is_not_success_when_any_item_failed() -> None:
    assert ItemOutcome(succeeded=["a"]).all_succeeded
    failed = ItemOutcome.model_validate({"succeeded": [], "failed": [{"code": 1, "sku_id": "a"}]})
    assert not failed.all_succeeded
    json.dumps(failed.model_dump())  # serialisable for DLQ messages


@pytest.mark.parametrize(
    "package_id",
    [
        "\uff11\uff12\uff13",
        "\u0663\u0664",
        "\u00b2",
        "abc\u00e9",
        "a b",
        "a/b",
        "a.b",
        "a%2F",
        "123\n",
        "",
    ],
)
def test_path_ids_outside_ascii_letters_digits_dash_underscore_are_refused_locally(
    package_id: str,
) -> None:
    # httpx would percent-encode non-ASCII, but the signature covers the raw path: TikTok
    # would answer 106001, so the client must not send it at all.
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope(0)

    with pytest.raises(TikTokRequestRejectedError, match="path segment"):
        client_with(handler, []).get_package_detail(SHOP, package_id)
    assert seen == []


def test_path_ids_of_ascii_letters_digits_dash_underscore_are_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope(0, {"package_id": "Ab-9_z"})

    client_with(handler, []).get_package_detail(SHOP, "Ab-9_z")
    assert seen[0].url.path == "/fulfillment/202309/packages/Ab-9_z"


def test_sku_stock_refuses_the_same_warehouse_twice() -> None:
    with pytest.raises(ValidationError, match="warehouse listed twice"):
        SkuStock(
            sku_id="1",
            levels=[
                StockLevel(warehouse_id="W1", quantity=1),
                StockLevel(warehouse_id="W2", quantity=2),
                StockLevel(warehouse_id="W1", quantity=3),
            ],
        )
    two = SkuStock(
        sku_id="1",
        levels=[
            StockLevel(warehouse_id="W1", quantity=1),
            StockLevel(warehouse_id="W2", quantity=0),
        ],
    )
    assert [level.warehouse_id for level in two.levels] == ["W1", "W2"]
