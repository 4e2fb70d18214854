"""The transport hands a shop-aware token refresher the call's remaining deadline; a plain
callable refresher keeps working unchanged (httpx.MockTransport, no network)."""

from __future__ import annotations

import httpx

from tts_sync.tiktok import ShopAccess, ShopTokenRefresher, TikTokApiConfig, TikTokClient
from tts_sync.tiktok.retry import Deadline

SHOP = ShopAccess("1", "ROW_c", "TTP_expired")


def expired_then_ok() -> httpx.MockTransport:
    replies = iter(
        [
            httpx.Response(401, json={"code": 105002, "message": "access token expired"}),
            httpx.Response(200, json={"code": 0, "request_id": "r", "data": {"warehouses": []}}),
        ]
    )
    return httpx.MockTransport(lambda _: next(replies))


def client_with(refresher: object) -> TikTokClient:
    return TikTokClient(
        "key",
        "secret",
        config=TikTokApiConfig(api_base_url="http://api.test"),
        http=httpx.Client(transport=expired_then_ok()),
        token_refresher=refresher,  # type: ignore[arg-type]
    )


class ShopRefresher:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, float | None]] = []

    def __call__(self, expired_access_token: str) -> str:
        raise AssertionError("the shop-aware form is preferred on shop calls")

    def refresh_shop_token(
        self, shop_id: str, expired_access_token: str, *, deadline: Deadline | None = None
    ) -> str:
        self.seen.append((shop_id, expired_access_token, deadline() if deadline else None))
        return "TTP_fresh"


def test_the_shop_refresher_is_given_the_calls_remaining_deadline() -> None:
    refresher = ShopRefresher()
    assert isinstance(refresher, ShopTokenRefresher)
    assert client_with(refresher).get_warehouses(SHOP, deadline=lambda: 4.25) == []
    assert refresher.seen == [("1", "TTP_expired", 4.25)]


def test_the_default_deadline_is_passed_when_the_caller_gave_none() -> None:
    refresher = ShopRefresher()
    client_with(refresher).get_warehouses(SHOP)
    [(_, _, remaining)] = refresher.seen
    default = TikTokApiConfig().default_deadline_seconds
    assert remaining is not None and 0 < remaining <= default


def test_a_plain_callable_refresher_still_works() -> None:
    seen: list[str] = []

    def refresher(expired: str) -> str:
        seen.append(expired)
        return "TTP_fresh"

    assert client_with(refresher).get_warehouses(SHOP, deadline=lambda: 4.25) == []
    assert seen == ["TTP_expired"]
