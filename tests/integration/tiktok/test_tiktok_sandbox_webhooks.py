"""Webhooks the sandbox delivers: signed like TikTok (hex HMAC-SHA256 of app_key + raw body),
one per POST, with deliberate duplicates and reordering."""

from __future__ import annotations

import json

import httpx

from tests.integration.tiktok.conftest import Receiver
from tts_local.sandbox import DemoData, Notification, Sandbox
from tts_sync.tiktok import ShopAccess, TikTokApiConfig, TikTokClient


def order_event(shop_id: str, order_id: str, status: str, update_time: int) -> Notification:
    data = {"order_id": order_id, "order_status": status, "update_time": update_time}
    return Notification(type=1, shop_id=shop_id, data=data)


def test_deliveries_are_signed_over_raw_body(sandbox: Sandbox, receiver: Receiver) -> None:
    [delivery] = sandbox.deliver_webhooks(receiver.url, [order_event("7", "57", "UNPAID", 1)])
    assert delivery.status == 200
    signature, body = receiver.received[0]
    assert signature == signature.lower() and len(signature) == 64
    envelope = json.loads(body)
    assert set(envelope) == {"type", "tts_notification_id", "shop_id", "timestamp", "data"}
    assert envelope["type"] == 1 and envelope["shop_id"] == "7"


def test_duplicates_are_byte_identical_and_reordering_is_reproducible(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    events = [order_event("7", "57", s, t) for t, s in enumerate(["UNPAID", "AWAITING_SHIPMENT"])]
    deliveries = sandbox.deliver_webhooks(receiver.url, events, duplicates=1, ordering="reversed")
    assert [d.status for d in deliveries] == [200] * 4
    bodies = [body for _, body in receiver.received]
    assert bodies[0] == bodies[1] and bodies[2] == bodies[3]
    statuses = [e["data"]["order_status"] for e in receiver.envelopes()]
    assert statuses == ["AWAITING_SHIPMENT"] * 2 + ["UNPAID"] * 2
    assert len({e["tts_notification_id"] for e in receiver.envelopes()}) == 2


def test_bad_signature_option_is_rejected_by_a_verifying_receiver(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    [delivery] = sandbox.deliver_webhooks(
        receiver.url, [order_event("7", "57", "UNPAID", 1)], bad_signature=True
    )
    assert delivery.status == 401


def test_order_status_change_is_pushed_to_the_registered_address(
    sandbox: Sandbox, demo: DemoData, receiver: Receiver
) -> None:
    client = TikTokClient(
        sandbox.app_key,
        sandbox.app_secret,
        config=TikTokApiConfig(api_base_url=sandbox.url, auth_base_url=sandbox.url),
    )
    shop = ShopAccess(demo.shop.id, demo.shop.cipher, demo.grant.access_token)
    with client:
        client.update_event_webhook(shop, "ORDER_STATUS_CHANGE", receiver.url)
    order = demo.orders["on_hold"]
    sandbox.set_order_status(order.id, "AWAITING_SHIPMENT")
    [envelope] = receiver.envelopes()
    assert envelope["shop_id"] == demo.shop.id
    assert envelope["data"]["order_id"] == order.id
    assert envelope["data"]["order_status"] == "AWAITING_SHIPMENT"
    assert envelope["data"]["update_time"] > order.create_time


def test_admin_route_delivers_shuffled_sequences(sandbox: Sandbox, receiver: Receiver) -> None:
    notifications = [
        {"type": 1, "shop_id": "7", "data": {"order_id": str(i)}, "tts_notification_id": f"n{i}"}
        for i in range(6)
    ]
    payload = {"url": receiver.url, "notifications": notifications, "ordering": "shuffled"}
    first = httpx.post(sandbox.url + "/_admin/webhooks/deliver", json=payload | {"seed": 3})
    order_a = [d["tts_notification_id"] for d in first.json()]
    second = httpx.post(sandbox.url + "/_admin/webhooks/deliver", json=payload | {"seed": 3})
    assert [d["tts_notification_id"] for d in second.json()] == order_a
    assert sorted(order_a) == [f"n{i}" for i in range(6)] and order_a != sorted(order_a)
