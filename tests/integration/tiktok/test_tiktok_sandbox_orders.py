"""The sandbox's orders look like TikTok's (tiktok-shop-api.md section 4) and move through
TikTok's lifecycle with the webhooks TikTok would send."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.integration.tiktok.conftest import Receiver
from tts_local.sandbox import DemoData, Sandbox
from tts_local.sandbox.scenarios import order_traffic
from tts_local.sandbox.webhooks import EVENT_TYPE_NUMBERS
from tts_sync.tiktok import ShopAccess, TikTokClient
from tts_sync.tiktok.errors import TikTokApiError
from tts_sync.tiktok.models import OrderSearchFilter

MUG = "1729582718312380001"
MUG_RED = "1729582718312381001"
MUG_BLUE = "1729582718312381002"
TOTE = "1729582718312380002"
TOTE_NAT = "1729582718312382001"
RED = {"sku_id": MUG_RED, "product_id": MUG, "seller_sku": "MUG-RED", "price": "14.00"}
BAG = {"sku_id": TOTE_NAT, "product_id": TOTE, "seller_sku": "TOTE-NAT", "price": "22.50"}
ORDER_STATUS_CHANGE = EVENT_TYPE_NUMBERS["ORDER_STATUS_CHANGE"]


def raw_orders(client: TikTokClient, shop: ShopAccess, *ids: str) -> list[dict[str, Any]]:
    """Get Order Detail's JSON as TikTok sends it (the typed client keeps only some fields)."""
    response = client.call(
        "GET",
        "/order/202309/orders",
        access_token=shop.access_token,
        shop=shop,
        query={"ids": ",".join(ids)},
    )
    orders: list[dict[str, Any]] = response.data["orders"]
    return orders


def statuses(sandbox: Sandbox, order_id: str) -> list[str]:
    found = sandbox.notifications_for(order_id, type=ORDER_STATUS_CHANGE)
    return [n.data["order_status"] for n in found]


# ---------------------------------------------------------------- shape


def test_line_items_are_one_unit_each_with_string_ids_and_decimal_money(
    sandbox: Sandbox, demo: DemoData, client: TikTokClient, shop: ShopAccess
) -> None:
    placed = sandbox.place_order(
        demo.shop.id,
        [RED | {"quantity": 3, "tax_rate": "0.0825"}, BAG | {"original_price": "25.00"}],
        on_hold=False,
        notify=False,
    )
    [order] = raw_orders(client, shop, placed.id)
    assert [line["sku_id"] for line in order["line_items"]] == [MUG_RED] * 3 + [TOTE_NAT]
    assert all("quantity" not in line for line in order["line_items"])
    assert len({line["id"] for line in order["line_items"]}) == 4
    ids = [order["id"], order["user_id"], order["warehouse_id"]] + [
        line[key]
        for line in order["line_items"]
        for key in ("id", "sku_id", "product_id", "package_id")
    ]
    assert all(isinstance(value, str) and value.isdigit() for value in ids)
    assert order["warehouse_id"] == "7000000000000001001"  # the shop's default warehouse
    assert order["payment"] == {
        "currency": "USD",
        "sub_total": "64.50",
        "shipping_fee": "0.00",
        "seller_discount": "2.50",
        "platform_discount": "0.00",
        "tax": "3.48",  # 3 x round(14.00 x 8.25 %) = 3 x 1.16
        "total_amount": "67.98",
        "original_total_product_price": "67.00",
    }
    assert order["line_items"][0]["item_tax"] == [
        {"tax_type": "SALES_TAX", "tax_amount": "1.16", "tax_rate": "0.0825"}
    ]
    assert order["fulfillment_type"] == "FULFILLMENT_BY_SELLER"
    assert order["shipping_type"] == "SELLER"
    assert order["shipping_due_time"] == order["paid_time"] + 72 * 3600


def test_bundles_and_gifts(
    sandbox: Sandbox, demo: DemoData, client: TikTokClient, shop: ShopAccess
) -> None:
    bundle = {
        "sku_id": "1729582718312389001",
        "product_id": "1729582718312389000",
        "price": "30.00",
        "combined_listing_skus": [
            {"sku_id": MUG_RED, "product_id": MUG, "seller_sku": "MUG-RED", "sku_count": 2},
            {"sku_id": TOTE_NAT, "product_id": TOTE, "seller_sku": "TOTE-NAT", "sku_count": 1},
        ],
    }
    placed = sandbox.place_order(
        demo.shop.id, [bundle, BAG | {"is_gift": True}], on_hold=False, notify=False
    )
    [order] = raw_orders(client, shop, placed.id)
    bundle_line, gift_line = order["line_items"]
    assert bundle_line["seller_sku"] == ""  # TikTok lets it be empty
    assert bundle_line["combined_listing_skus"] == bundle["combined_listing_skus"]
    assert "combined_listing_skus" not in gift_line
    assert gift_line["is_gift"] and gift_line["sale_price"] == "0.00"
    assert gift_line["original_price"] == "22.50"
    assert order["payment"]["sub_total"] == "30.00"
    assert order["payment"]["seller_discount"] == "22.50"


def test_address_and_email_hidden_until_the_hold_ends(
    sandbox: Sandbox, demo: DemoData, client: TikTokClient, shop: ShopAccess
) -> None:
    unpaid = sandbox.place_order(demo.shop.id, [RED], paid=False, notify=False)
    held = sandbox.place_order(demo.shop.id, [RED], notify=False)
    [unpaid_json, held_json] = raw_orders(client, shop, unpaid.id, held.id)
    assert unpaid_json["status"] == "UNPAID" and "paid_time" not in unpaid_json
    assert "shipping_due_time" not in unpaid_json
    assert held_json["status"] == "ON_HOLD" and held_json["is_on_hold_order"] is True
    for hidden in (unpaid_json, held_json):
        assert hidden["recipient_address"] == {} and hidden["buyer_email"] == ""
    assert held_json["packages"] == []  # nothing to ship in the hold window
    sandbox.advance_order(held.id, "AWAITING_SHIPMENT", notify=False)
    [released] = raw_orders(client, shop, held.id)
    address = released["recipient_address"]
    assert address["full_address"] and address["district_info"]
    assert {"first_name", "last_name", "address_line1", "address_line4"} <= set(address)
    assert released["buyer_email"].endswith("@scs.tiktokw.us")
    assert len(released["packages"]) == 1
    assert released["line_items"][0]["package_id"] == released["packages"][0]["id"]
    assert released["line_items"][0]["package_status"] == "PROCESSING"


def test_product_client_reads_lifecycle_orders(
    sandbox: Sandbox, demo: DemoData, client: TikTokClient, shop: ShopAccess
) -> None:
    placed = sandbox.place_order(demo.shop.id, [RED, BAG], package_split=[[0], [1]], notify=False)
    sandbox.advance_order(placed.id, "AWAITING_SHIPMENT", notify=False)
    [order] = client.get_order_detail(shop, [placed.id])
    assert order.status == "AWAITING_SHIPMENT" and len(order.packages) == 2
    assert order.recipient_address is not None and order.recipient_address.full_address


def test_lines_show_their_package_as_it_ships(
    sandbox: Sandbox, demo: DemoData, client: TikTokClient, shop: ShopAccess
) -> None:
    placed = sandbox.place_order(demo.shop.id, [RED, BAG], package_split=[[0], [1]], notify=False)
    sandbox.advance_order(placed.id, "AWAITING_SHIPMENT", notify=False)
    first, _ = placed.packages
    client.ship_package(shop, first, "1Z999", demo.provider_id)
    [order] = raw_orders(client, shop, placed.id)
    assert order["status"] == "PARTIALLY_SHIPPING"
    assert [(line["package_status"], line["tracking_number"]) for line in order["line_items"]] == [
        ("FULFILLING", "1Z999"),
        ("PROCESSING", ""),
    ]
    assert order["line_items"][0]["shipping_provider_id"] == demo.provider_id


# ---------------------------------------------------------------- lifecycle


def test_paid_order_goes_through_unpaid_then_on_hold(sandbox: Sandbox, demo: DemoData) -> None:
    order = sandbox.place_order(demo.shop.id, [RED], notify=False, at=1_800_000_000)
    assert order.status == "ON_HOLD"
    assert statuses(sandbox, order.id) == ["UNPAID", "ON_HOLD"]
    assert order.paid_time == order.update_time > order.create_time == 1_800_000_000


@pytest.mark.parametrize(
    ("path", "invalid"),
    [
        ([], "IN_TRANSIT"),  # ON_HOLD cannot ship
        ([], "COMPLETED"),
        (["AWAITING_SHIPMENT"], "ON_HOLD"),  # no way back
        (["AWAITING_SHIPMENT", "IN_TRANSIT"], "CANCELLED"),
        (["CANCELLED"], "AWAITING_SHIPMENT"),
        (["AWAITING_SHIPMENT", "IN_TRANSIT", "DELIVERED", "COMPLETED"], "DELIVERED"),
    ],
)
def test_invalid_transitions_are_refused_and_change_nothing(
    sandbox: Sandbox, demo: DemoData, path: list[str], invalid: str
) -> None:
    order = sandbox.place_order(demo.shop.id, [RED], notify=False)
    for status in path:
        sandbox.advance_order(order.id, status, notify=False)
    before = (order.status, order.update_time, len(sandbox.notifications_for(order.id)))
    with pytest.raises(ValueError, match="not a valid move"):
        sandbox.advance_order(order.id, invalid, notify=False)
    assert (order.status, order.update_time, len(sandbox.notifications_for(order.id))) == before


def test_full_lifecycle_update_time_strictly_increases(sandbox: Sandbox, demo: DemoData) -> None:
    at = 1_800_000_000
    order = sandbox.place_order(demo.shop.id, [RED], paid=False, notify=False, at=at)
    times = [order.update_time]
    for status in ("ON_HOLD", "AWAITING_SHIPMENT", "IN_TRANSIT", "DELIVERED", "COMPLETED"):
        sandbox.advance_order(order.id, status, notify=False, at=at)  # same instant asked
        times.append(order.update_time)
    assert times == sorted(set(times)) and len(times) == 6
    notified = sandbox.notifications_for(order.id, type=ORDER_STATUS_CHANGE)
    assert [n.data["update_time"] for n in notified] == times
    assert [line["display_status"] for line in order.to_api()["line_items"]] == ["COMPLETED"]
    assert [p.status for p in order.packages.values()] == ["COMPLETED"]


def test_cancellation_sets_cancel_fields_and_webhooks_say_cancel(
    sandbox: Sandbox, demo: DemoData
) -> None:
    order = sandbox.place_order(demo.shop.id, [RED], notify=False)
    sandbox.advance_order(
        order.id,
        "CANCELLED",
        notify=False,
        cancellation_initiator="SELLER",
        cancel_reason="Out of stock",
    )
    api = order.to_api()
    assert api["status"] == "CANCELLED"  # the Order API's spelling
    assert api["cancellation_initiator"] == "SELLER" and not api["is_buyer_request_cancel"]
    assert api["cancel_reason"] == api["line_items"][0]["cancel_reason"] == "Out of stock"
    assert api["request_cancel_time"] == api["update_time"]
    assert statuses(sandbox, order.id)[-1] == "CANCEL"  # the webhook page's spelling
    [cancellation] = sandbox.notifications_for(
        order.id, type=EVENT_TYPE_NUMBERS["CANCELLATION_STATUS_CHANGE"]
    )
    assert cancellation.data["cancellations_role"] == "SELLER"
    assert cancellation.data["cancel_status"] == "CANCELLATION_REQUEST_COMPLETE"
    assert cancellation.data["cancel_id"] and cancellation.data["create_time"] == api["update_time"]
    other = sandbox.place_order(demo.shop.id, [RED], notify=False)
    with pytest.raises(ValueError, match="cancellation_initiator"):
        sandbox.advance_order(other.id, "CANCELLED", cancellation_initiator="ROBOT")
    assert other.status == "ON_HOLD"


def test_address_change_keeps_update_time_and_sends_type_3(
    sandbox: Sandbox, demo: DemoData, client: TikTokClient, shop: ShopAccess
) -> None:
    order = sandbox.place_order(demo.shop.id, [RED], on_hold=False, notify=False)
    [before] = raw_orders(client, shop, order.id)
    sandbox.change_address(order.id, notify=False, at=before["update_time"] + 600)
    [after] = raw_orders(client, shop, order.id)
    assert after["update_time"] == before["update_time"]
    assert after["has_updated_recipient_address"] and not before["has_updated_recipient_address"]
    assert after["recipient_address"]["full_address"] != before["recipient_address"]["full_address"]
    [changed] = sandbox.notifications_for(
        order.id, type=EVENT_TYPE_NUMBERS["RECIPIENT_ADDRESS_UPDATE"]
    )
    assert changed.data == {"order_id": order.id, "update_time": before["update_time"] + 600}
    sandbox.advance_order(order.id, "IN_TRANSIT", notify=False)
    with pytest.raises(ValueError, match="can no longer change"):
        sandbox.change_address(order.id, notify=False)


def test_split_packages_send_a_package_update(sandbox: Sandbox, demo: DemoData) -> None:
    order = sandbox.place_order(
        demo.shop.id, [RED | {"quantity": 2}, BAG], package_split=[[0, 1], [2]], notify=False
    )
    assert sandbox.notifications_for(order.id, type=EVENT_TYPE_NUMBERS["PACKAGE_UPDATE"]) == []
    sandbox.advance_order(order.id, "AWAITING_SHIPMENT", notify=False)
    [update] = sandbox.notifications_for(order.id, type=EVENT_TYPE_NUMBERS["PACKAGE_UPDATE"])
    assert update.data["sc_type"] == "SPLIT"
    assert [p["order_id_list"] for p in update.data["package_list"]] == [[order.id], [order.id]]
    assert {p["package_id"] for p in update.data["package_list"]} == set(order.packages)
    assert order.to_api()["split_or_combine_tag"] == "SPLIT"


def test_notifications_have_unique_ids_and_are_delivered_per_subscribed_type(
    sandbox: Sandbox, demo: DemoData, receiver: Receiver
) -> None:
    sandbox.state.webhooks[(demo.shop.id, "ORDER_STATUS_CHANGE")] = receiver.url
    sandbox.state.webhooks[(demo.shop.id, "CANCELLATION_STATUS_CHANGE")] = receiver.url
    order = sandbox.place_order(demo.shop.id, [RED])
    sandbox.change_address(order.id)  # RECIPIENT_ADDRESS_UPDATE: not subscribed, not sent
    sandbox.advance_order(order.id, "CANCELLED")
    envelopes = receiver.envelopes()
    assert [(e["type"], e["data"].get("order_status")) for e in envelopes] == [
        (1, "UNPAID"),
        (1, "ON_HOLD"),
        (11, None),
        (1, "CANCEL"),
    ]
    produced = sandbox.notifications_for(order.id)
    assert len(produced) == 5
    assert len({n.tts_notification_id for n in produced}) == 5
    assert [e["tts_notification_id"] for e in envelopes] == [
        n.tts_notification_id for n in produced if n.type != 3
    ]


def test_notify_false_delivers_nothing(
    sandbox: Sandbox, demo: DemoData, receiver: Receiver
) -> None:
    sandbox.state.webhooks[(demo.shop.id, "ORDER_STATUS_CHANGE")] = receiver.url
    order = sandbox.place_order(demo.shop.id, [RED], notify=False)
    sandbox.advance_order(order.id, "AWAITING_SHIPMENT", notify=False)
    assert receiver.received == []
    assert statuses(sandbox, order.id) == ["UNPAID", "ON_HOLD", "AWAITING_SHIPMENT"]


def test_admin_routes_drive_the_lifecycle(sandbox: Sandbox, demo: DemoData) -> None:
    placed = httpx.post(
        sandbox.url + "/_admin/orders/place",
        json={"shop_id": demo.shop.id, "items": [RED], "notify": False, "at": 1_800_000_000},
    ).json()
    order_id = placed["order"]["id"]
    assert placed["order"]["status"] == "ON_HOLD"
    assert [n["data"]["order_status"] for n in placed["notifications"]] == ["UNPAID", "ON_HOLD"]
    moved = httpx.post(
        sandbox.url + f"/_admin/orders/{order_id}/advance",
        json={"status": "CANCELLED", "notify": False},
    ).json()
    assert [n["type"] for n in moved["notifications"]] == [11, 1]
    refused = httpx.post(
        sandbox.url + f"/_admin/orders/{order_id}/advance", json={"status": "IN_TRANSIT"}
    )
    assert refused.status_code == 400 and "not a valid move" in refused.json()["error"]
    listed = httpx.get(
        sandbox.url + "/_admin/notifications", params={"order_id": order_id, "type": "1"}
    ).json()
    assert [n["data"]["order_status"] for n in listed] == ["UNPAID", "ON_HOLD", "CANCEL"]
    missing = httpx.post(sandbox.url + "/_admin/orders/404/address", json={})
    assert missing.status_code == 404


def test_set_order_status_still_moves_freely_but_spells_cancel(
    sandbox: Sandbox, demo: DemoData
) -> None:
    order = sandbox.set_order_status(demo.orders["completed"].id, "CANCELLED", notify=False)
    assert order.status == "CANCELLED"
    assert statuses(sandbox, order.id) == ["CANCEL"]


# ---------------------------------------------------------------- faults and search


def test_omit_orders_answers_code_zero_without_the_order(
    sandbox: Sandbox, demo: DemoData, client: TikTokClient, shop: ShopAccess
) -> None:
    kept, dropped = demo.orders["awaiting_shipment"].id, demo.orders["split"].id
    sandbox.inject_fault("/order/202309/orders", "omit_orders", order_ids=[dropped])
    assert [o.id for o in client.get_order_detail(shop, [kept, dropped])] == [kept]
    assert sandbox.requests("/order/202309/orders")[-1]["code"] == 0
    assert {o.id for o in client.get_order_detail(shop, [kept, dropped])} == {kept, dropped}
    sandbox.inject_fault("/order/202309/orders", "omit_orders")  # no ids: omit them all
    assert client.get_order_detail(shop, [kept, dropped]) == []


def search(
    client: TikTokClient, shop: ShopAccess, query: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = client.call(
        "POST",
        "/order/202309/orders/search",
        access_token=shop.access_token,
        shop=shop,
        query={"page_size": "50", "sort_field": "update_time", **query},
        body=body,
    )
    return response.data


def test_sort_order_is_validated_and_honoured(
    sandbox: Sandbox, demo: DemoData, client: TikTokClient, shop: ShopAccess
) -> None:
    ascending = search(client, shop, {"sort_order": "ASC"}, {})["orders"]
    descending = search(client, shop, {"sort_order": "DESC"}, {})["orders"]
    times = [o["update_time"] for o in ascending]
    assert times == sorted(times) and len(times) == len(demo.orders)
    assert [o["id"] for o in descending] == [o["id"] for o in reversed(ascending)]
    with pytest.raises(TikTokApiError) as refused:
        search(client, shop, {"sort_order": "asc"}, {})
    assert refused.value.code == 36009004


def test_range_spill_returns_orders_just_outside_the_window(
    sandbox: Sandbox, demo: DemoData, client: TikTokClient, shop: ShopAccess
) -> None:
    base = 1_800_000_000
    for offset in (-30, 0, 50, 100, 130):
        sandbox.seed_order(demo.shop.id, items=[RED], create_time=base + offset)
    window = OrderSearchFilter(update_time_ge=base, update_time_lt=base + 100)
    # The client always sends sort_order (ASC unless told): oldest first.
    assert [o.update_time for o in client.search_orders(shop, window)] == [base, base + 50]
    sandbox.inject_fault("/order/202309/orders/search", "range_spill", spill_seconds=20)
    spilled = [o.update_time - base for o in client.search_orders(shop, window)]
    assert spilled == [0, 50, 100]  # 100 is outside [0, 100): the caller must filter


# ---------------------------------------------------------------- bulk scenario


def test_order_traffic_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
        with Sandbox("k", "s") as sandbox:
            demo = sandbox.seed_demo_data()
            traffic = order_traffic(sandbox, demo.shop.id, orders=200, seed=seed)
        notifications = [
            (n.tts_notification_id, n.type, n.timestamp, n.data) for n in traffic.notifications
        ]
        return notifications, {i: o.to_api() for i, o in traffic.final_orders.items()}

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_order_traffic_at_size_is_fast_and_tells_a_consistent_story(
    sandbox: Sandbox, demo: DemoData
) -> None:
    started = time.perf_counter()
    traffic = order_traffic(sandbox, demo.shop.id, orders=2_000, seed=7)
    assert time.perf_counter() - started < 2.0
    assert len(traffic.final_orders) == 2_000
    final = Counter(o.status for o in traffic.final_orders.values())
    assert set(final) == {"AWAITING_SHIPMENT", "CANCELLED"}
    assert 300 < final["CANCELLED"] < 500  # cancel_share 0.2 of 2,000
    by_type = Counter(n.type for n in traffic.notifications)
    assert by_type[EVENT_TYPE_NUMBERS["CANCELLATION_STATUS_CHANGE"]] == final["CANCELLED"]
    assert by_type[EVENT_TYPE_NUMBERS["RECIPIENT_ADDRESS_UPDATE"]] > 100
    assert by_type[EVENT_TYPE_NUMBERS["PACKAGE_UPDATE"]] > 10
    assert len({n.tts_notification_id for n in traffic.notifications}) == len(traffic.notifications)
    stamps = [n.timestamp for n in traffic.notifications]
    assert stamps == sorted(stamps)  # the order TikTok emits them in
    lines = [line for o in traffic.final_orders.values() for line in o.line_items]
    assert any(line.combined_listing_skus for line in lines)
    assert any(line.is_gift for line in lines)
    # Each order's type-1 webhooks start UNPAID, ON_HOLD and end where the order ended up.
    status_trail: dict[str, list[str]] = {}
    for n in traffic.notifications:
        if n.type == ORDER_STATUS_CHANGE:
            status_trail.setdefault(n.data["order_id"], []).append(n.data["order_status"])
            assert n.data["update_time"] <= traffic.final_orders[n.data["order_id"]].update_time
    for order_id, order in traffic.final_orders.items():
        expected = "CANCEL" if order.status == "CANCELLED" else order.status
        assert status_trail[order_id][:2] == ["UNPAID", "ON_HOLD"]
        assert status_trail[order_id][-1] == expected
