"""Each typed method of the client against the sandbox, asserting both the parsed result and
what went over the wire (from the sandbox's request log)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tts_local.sandbox import DemoData, Sandbox
from tts_sync.tiktok import ShopAccess, TikTokClient, TikTokPermanentError
from tts_sync.tiktok.errors import TikTokRequestRejectedError
from tts_sync.tiktok.models import (
    OrderSearchFilter,
    OrderStatus,
    SkuPrice,
    SkuStock,
    StockLevel,
)
from tts_sync.tiktok.signing import sign

ClientFactory = Callable[..., TikTokClient]

MUG = "1729582718312380001"
MUG_RED, MUG_BLUE = "1729582718312381001", "1729582718312381002"
EAST, WEST = "7000000000000001001", "7000000000000001002"


def test_authorized_shops_carry_no_cipher(
    client: TikTokClient, sandbox: Sandbox, demo: DemoData
) -> None:
    shops = client.get_authorized_shops(demo.grant.access_token)
    assert [(s.id, s.cipher, s.region) for s in shops] == [(demo.shop.id, demo.shop.cipher, "US")]
    [logged] = sandbox.requests("/authorization/")
    assert "shop_cipher" not in logged["query"]
    assert logged["headers"]["x-tts-access-token"] == demo.grant.access_token
    assert "access_token" not in logged["query"]


def test_shop_scoped_call_is_signed_over_the_exact_body_sent(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess
) -> None:
    client.update_stock(
        shop, MUG, [SkuStock(sku_id=MUG_BLUE, levels=[StockLevel(warehouse_id=EAST, quantity=3)])]
    )
    [logged] = sandbox.requests("/product/")
    query = logged["query"]
    assert query["shop_cipher"] == shop.shop_cipher
    assert len(query["timestamp"]) == 10
    assert logged["headers"]["content-type"] == "application/json"
    assert json.loads(logged["body"]) == {
        "skus": [{"id": MUG_BLUE, "inventory": [{"warehouse_id": EAST, "quantity": 3}]}]
    }
    assert query["sign"] == sign(logged["path"], query, logged["body"].encode(), sandbox.app_secret)


def test_order_detail_batches_by_fifty(
    client: TikTokClient, sandbox: Sandbox, demo: DemoData, shop: ShopAccess
) -> None:
    ids = [
        sandbox.seed_order(demo.shop.id, items=[{"sku_id": MUG_RED, "product_id": MUG}]).id
        for _ in range(120)
    ]
    orders = client.get_order_detail(shop, ids + ids[:5])  # duplicates asked once
    assert [o.id for o in orders] == ids
    sizes = [len(r["query"]["ids"].split(",")) for r in sandbox.requests("/order/202309/orders")]
    assert sizes == [50, 50, 20]


def test_order_detail_shapes_on_hold_and_split_orders(
    client: TikTokClient, demo: DemoData, shop: ShopAccess
) -> None:
    on_hold, split = client.get_order_detail(
        shop, [demo.orders["on_hold"].id, demo.orders["split"].id]
    )
    assert on_hold.status == OrderStatus.ON_HOLD and on_hold.is_on_hold_order
    assert on_hold.recipient_address is None  # TikTok hides it during the hold
    assert split.recipient_address is not None and split.recipient_address.full_address
    assert len(split.packages) == 2
    assert {item.package_id for item in split.line_items} == {p.id for p in split.packages}


def test_search_orders_follows_page_tokens_with_body_filters(
    client: TikTokClient, sandbox: Sandbox, demo: DemoData, shop: ShopAccess
) -> None:
    base = 1_800_000_000
    for i in range(25):
        sandbox.seed_order(
            demo.shop.id, items=[{"sku_id": MUG_RED}], create_time=base + i, update_time=base + i
        )
    window = OrderSearchFilter(update_time_ge=base + 3, update_time_lt=base + 23)
    found = list(client.search_orders(shop, window, page_size=7))
    assert len(found) == 20
    assert all(base + 3 <= o.update_time < base + 23 for o in found)
    logged = sandbox.requests("/order/202309/orders/search")
    assert len(logged) == 3
    assert all(r["query"]["sort_field"] == "update_time" for r in logged)
    assert "page_token" not in logged[0]["query"] and logged[1]["query"]["page_token"]
    assert json.loads(logged[0]["body"]) == {
        "update_time_ge": base + 3,
        "update_time_lt": base + 23,
    }


def test_search_orders_by_status_and_page_size_cap(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess
) -> None:
    cancelled = list(
        client.search_orders(shop, OrderSearchFilter(order_status=OrderStatus.CANCELLED))
    )
    assert [o.status for o in cancelled] == ["CANCELLED"]
    with pytest.raises(TikTokRequestRejectedError):
        client.search_orders_page(shop, OrderSearchFilter(), page_size=101)
    assert len(sandbox.requests("/order/")) == 1


def test_logistics_lookups(client: TikTokClient, demo: DemoData, shop: ShopAccess) -> None:
    warehouses = client.get_warehouses(shop)
    assert {w.type for w in warehouses} == {"SALES_WAREHOUSE", "RETURN_WAREHOUSE"}
    options = client.get_delivery_options(shop, EAST)
    assert [o.id for o in options] == ["7129736992520250113", "7129736992520250114"]
    providers = client.get_shipping_providers(shop, options[0].id)
    assert [(p.id, p.name) for p in providers] == [
        ("6617675021119438849", "USPS"),
        ("6617675021119438850", "UPS"),
    ]
    with pytest.raises(TikTokPermanentError) as missing:
        client.get_delivery_options(shop, "404404")
    assert missing.value.http_status == 404


def test_update_stock_applies_and_reports_success_per_sku(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess
) -> None:
    outcome = client.update_stock(
        shop,
        MUG,
        [
            SkuStock(
                sku_id=MUG_RED,
                levels=[
                    StockLevel(warehouse_id=EAST, quantity=7),
                    StockLevel(warehouse_id=WEST, quantity=0),
                ],
            ),
            SkuStock(sku_id=MUG_BLUE, levels=[StockLevel(warehouse_id=EAST, quantity=150_000)]),
        ],
    )
    assert outcome.all_succeeded and outcome.succeeded == [MUG_RED, MUG_BLUE]
    skus = {s["id"]: s for p in sandbox.snapshot()["products"] for s in p["skus"]}
    assert skus[MUG_RED]["stock"] == {EAST: 7, WEST: 0}
    assert skus[MUG_BLUE]["stock"] == {EAST: 99_999}  # capped, not rejected


def test_update_stock_code_zero_with_errors_is_a_partial_failure(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess
) -> None:
    outcome = client.update_stock(
        shop,
        MUG,
        [
            # MUG_RED is stocked in EAST and WEST: listing only EAST is an error.
            SkuStock(sku_id=MUG_RED, levels=[StockLevel(warehouse_id=EAST, quantity=1)]),
            SkuStock(sku_id=MUG_BLUE, levels=[StockLevel(warehouse_id=EAST, quantity=2)]),
        ],
    )
    assert not outcome.all_succeeded
    assert outcome.succeeded == [MUG_BLUE]
    [error] = outcome.failed
    assert (error.sku_id, error.warehouse_id, error.code) == (MUG_RED, WEST, 12019028)
    assert error.warehouse_ids == [WEST]  # from detail.extra_errors[], TikTok's shape
    assert sandbox.requests("/product/")[0]["code"] == 0


def test_injected_sku_errors_surface_per_item(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess
) -> None:
    sandbox.inject_fault(
        f"/product/202309/products/{MUG}/inventory/update", "sku_errors", sku_ids=[MUG_BLUE]
    )
    outcome = client.update_stock(
        shop, MUG, [SkuStock(sku_id=MUG_BLUE, levels=[StockLevel(warehouse_id=EAST, quantity=5)])]
    )
    assert outcome.succeeded == [] and [e.sku_id for e in outcome.failed] == [MUG_BLUE]


def test_update_stock_local_validation(
    make_client: ClientFactory, sandbox: Sandbox, shop: ShopAccess
) -> None:
    client = make_client(config={"stock_zero_policy": "reject"})
    level = [StockLevel(warehouse_id=EAST, quantity=1)]
    too_many = [SkuStock(sku_id=str(i), levels=level) for i in range(101)]
    with pytest.raises(TikTokRequestRejectedError, match="at most 100"):
        client.update_stock(shop, MUG, too_many)
    with pytest.raises(TikTokRequestRejectedError, match="zero policy"):
        client.update_stock(
            shop,
            MUG,
            [SkuStock(sku_id=MUG_BLUE, levels=[StockLevel(warehouse_id=EAST, quantity=0)])],
        )
    with pytest.raises(TikTokRequestRejectedError, match="twice"):
        client.update_stock(shop, MUG, [SkuStock(sku_id=MUG_BLUE, levels=level)] * 2)
    with pytest.raises(TikTokRequestRejectedError, match="path segment"):
        client.update_stock(shop, "../../x", [SkuStock(sku_id=MUG_BLUE, levels=level)])
    assert sandbox.requests("/product/") == []


def test_update_price(client: TikTokClient, sandbox: Sandbox, shop: ShopAccess) -> None:
    outcome = client.update_price(
        shop,
        MUG,
        [
            SkuPrice(sku_id=MUG_RED, amount="15.50", currency="USD"),
            SkuPrice(sku_id="999", amount="1.00", currency="USD"),
        ],
    )
    assert outcome.succeeded == [MUG_RED] and outcome.failed[0].sku_id == "999"
    skus = {s["id"]: s for p in sandbox.snapshot()["products"] for s in p["skus"]}
    assert skus[MUG_RED]["price"] == {"amount": "15.50", "currency": "USD"}


def test_ship_split_order_package_by_package(
    client: TikTokClient, demo: DemoData, shop: ShopAccess
) -> None:
    order = client.get_order_detail(shop, [demo.orders["split"].id])[0]
    first, second = (p.id for p in order.packages)
    client.ship_package(shop, first, "1Z999", demo.provider_id)
    assert client.get_order_detail(shop, [order.id])[0].status == "PARTIALLY_SHIPPING"
    detail = client.get_package_detail(shop, first)
    assert (detail.package_status, detail.tracking_number) == ("FULFILLING", "1Z999")
    assert detail.shipping_provider_name == "USPS" and detail.orders[0].id == order.id
    client.ship_package(shop, second, "1Z998", demo.provider_id)
    assert client.get_order_detail(shop, [order.id])[0].status == "IN_TRANSIT"
    client.update_shipping_info(shop, first, "1Z997", "6617675021119438850")
    assert client.get_package_detail(shop, first).tracking_number == "1Z997"
    with pytest.raises(TikTokPermanentError):
        client.ship_package(shop, first, "again", demo.provider_id)


def test_mark_shipped_and_refusals(
    client: TikTokClient, sandbox: Sandbox, demo: DemoData, shop: ShopAccess
) -> None:
    order = demo.orders["awaiting_shipment"]
    shipped = client.mark_shipped(
        shop, order.id, "9400111", demo.provider_id, [order.line_items[0].id]
    )
    assert client.get_package_detail(shop, shipped.package_id).tracking_number == "9400111"
    assert client.get_order_detail(shop, [order.id])[0].status == "PARTIALLY_SHIPPING"
    with pytest.raises(TikTokPermanentError) as on_hold:
        client.mark_shipped(shop, demo.orders["on_hold"].id, "1", demo.provider_id)
    assert on_hold.value.code == 21011001
    assert len(sandbox.requests(f"/fulfillment/202309/orders/{demo.orders['on_hold'].id}")) == 1


def test_event_webhook_registration(client: TikTokClient, shop: ShopAccess) -> None:
    client.update_event_webhook(shop, "ORDER_STATUS_CHANGE", "https://example.test/webhooks")
    hooks = client.get_event_webhooks(shop)
    assert [(h.event_type, h.address) for h in hooks] == [
        ("ORDER_STATUS_CHANGE", "https://example.test/webhooks")
    ]
    client.delete_event_webhook(shop, "ORDER_STATUS_CHANGE")
    assert client.get_event_webhooks(shop) == []
    with pytest.raises(TikTokPermanentError):
        client.update_event_webhook(shop, "NOT_A_TYPE", "https://example.test/x")


def test_oauth_consent_then_token_get_and_refresh(
    client: TikTokClient, sandbox: Sandbox, demo: DemoData
) -> None:
    consent = httpx.get(
        f"{sandbox.url}/oauth/authorize",
        params={"app_key": client.app_key, "state": "xyz", "redirect_uri": "https://app.test/cb"},
    )
    assert consent.status_code == 302
    location = httpx.URL(consent.headers["location"])
    assert (location.host, location.path, location.params["state"]) == ("app.test", "/cb", "xyz")
    tokens = client.get_access_token(location.params["code"])
    assert tokens.access_token_expire_in > sandbox.now() + 6 * 86_400  # absolute timestamp
    shops = client.get_authorized_shops(tokens.access_token)
    assert [s.id for s in shops] == [demo.shop.id]
    with pytest.raises(TikTokPermanentError):  # an auth code works once
        client.get_access_token(location.params["code"])
    refreshed = client.refresh_access_token(tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    assert client.get_authorized_shops(refreshed.access_token)[0].id == demo.shop.id
    assert "app_secret" not in repr(refreshed) and tokens.access_token not in repr(tokens)
