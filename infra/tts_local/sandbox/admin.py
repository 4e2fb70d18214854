"""JSON admin API under /_admin/ (no signing: loopback only), mirroring the Python API so the
local stack, a shell or another process can seed, inspect, break and replay.

GET    /_admin/state                 everything in memory, pending faults, throttle counters
POST   /_admin/reset                 forget everything
POST   /_admin/seed/demo             seed_demo_data(); returns ids and the access token
POST   /_admin/shops                 {id?, name?, region?, cipher?, qps?}
PUT    /_admin/shops/{id}/qps        {qps: number|null}
POST   /_admin/tokens                {shop_ids, access_ttl?} -> token data
POST   /_admin/tokens/expire         {access_token}
POST   /_admin/auth-codes            {shop_ids} -> {auth_code}
POST   /_admin/warehouses            {shop_id, id?, name?, type?, delivery_option_ids?}
POST   /_admin/delivery-options      {id, name, provider_ids, type?}
POST   /_admin/providers             {id, name}
POST   /_admin/products              {shop_id, id?, title?, skus[], notify?} (notify: created
                                      by the seller, PRODUCT_CREATION sent; else seeded silently)
POST   /_admin/products/{id}/change  {title?, add_skus?, remove_sku_ids?, notify?} (type 15)
POST   /_admin/products/{id}/status  {status, notify?} (type 5)
POST   /_admin/products/{id}/skus/{sku_id}/status  {status, notify?} (type 50)
      these three and a notified creation answer {product, notifications[envelope]}
POST   /_admin/orders                {shop_id, id?, status?, items[], package_split?, ...}
POST   /_admin/orders/{id}/status    {status, notify?} (any status, no transition check)
POST   /_admin/orders/place          {shop_id, items[], id?, paid?, on_hold?, warehouse_id?,
                                      package_split?, buyer_message?, notify?, at?}
POST   /_admin/orders/{id}/advance   {status, notify?, at?, cancellation_initiator?,
                                      cancel_reason?} (valid moves only, else 400)
POST   /_admin/orders/{id}/address   {notify?, at?, address?} (update_time does not move)
      these three answer {order, notifications[envelope]}: what TikTok would send for the move
GET    /_admin/notifications?order_id=&type=  every lifecycle notification, as envelopes
POST   /_admin/faults                {path, kind, count?, status?, code?, retry_after?,
                                      after_apply?, sleep_seconds?, ...}
DELETE /_admin/faults
GET    /_admin/requests?path_prefix=  request log; DELETE clears it
POST   /_admin/webhooks/deliver      {url, notifications[{type, shop_id, data, ...}],
                                      duplicates?, ordering?, seed?, bad_signature?}
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any

from tts_local.sandbox.state import ACCESS_TOKEN_TTL
from tts_local.sandbox.webhooks import Notification

if TYPE_CHECKING:
    from tts_local.sandbox.sandbox import Sandbox
    from tts_local.sandbox.server import Reply


def _reply(status: int, payload: Any) -> Reply:
    from tts_local.sandbox.server import Reply

    return Reply(status, json.dumps(payload, default=_jsonable).encode())


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(type(value).__name__)


def handle_admin(
    sandbox: Sandbox, method: str, path: str, query: dict[str, str], body: bytes
) -> Reply:
    try:
        payload = json.loads(body) if body else {}
        if not isinstance(payload, dict):
            raise ValueError("body must be a JSON object")
        return _reply(200, _dispatch(sandbox, method, path, query, payload))
    except LookupError as exc:
        return _reply(404, {"error": f"not found: {exc}"})
    except (ValueError, TypeError) as exc:
        return _reply(400, {"error": str(exc)})


def _dispatch(
    sandbox: Sandbox, method: str, path: str, query: dict[str, str], body: dict[str, Any]
) -> Any:
    route = (method, path)
    if route == ("GET", "/_admin/state"):
        return sandbox.snapshot()
    if route == ("POST", "/_admin/reset"):
        sandbox.reset()
        return {}
    if route == ("POST", "/_admin/seed/demo"):
        demo = sandbox.seed_demo_data()
        return {
            "shop": demo.shop.to_api(),
            "access_token": demo.grant.access_token,
            "refresh_token": demo.grant.refresh_token,
            "orders": {label: order.id for label, order in demo.orders.items()},
            "products": [p.id for p in demo.products],
            "warehouses": [w.id for w in demo.warehouses],
        }
    if route == ("POST", "/_admin/shops"):
        return sandbox.seed_shop(
            body.get("id"),
            name=body.get("name", "Sandbox Shop"),
            region=body.get("region", "US"),
            cipher=body.get("cipher"),
            qps=body.get("qps"),
        ).to_api()
    if match := re.fullmatch(r"/_admin/shops/([\w-]+)/qps", path):
        sandbox.set_shop_qps(match.group(1), body.get("qps"))
        return {}
    if route == ("POST", "/_admin/tokens"):
        ttl = int(body.get("access_ttl", ACCESS_TOKEN_TTL))
        return sandbox.issue_token(body["shop_ids"], access_ttl=ttl).to_api()
    if route == ("POST", "/_admin/tokens/expire"):
        sandbox.expire_access_token(body["access_token"])
        return {}
    if route == ("POST", "/_admin/auth-codes"):
        return {"auth_code": sandbox.create_auth_code(body["shop_ids"])}
    if route == ("POST", "/_admin/warehouses"):
        return sandbox.seed_warehouse(
            body["shop_id"],
            body.get("id"),
            name=body.get("name", "Main warehouse"),
            type=body.get("type", "SALES_WAREHOUSE"),
            delivery_option_ids=body.get("delivery_option_ids", []),
        ).to_api()
    if route == ("POST", "/_admin/delivery-options"):
        return sandbox.seed_delivery_option(
            body["id"],
            body["name"],
            body.get("provider_ids", []),
            type=body.get("type", "STANDARD"),
        )
    if route == ("POST", "/_admin/providers"):
        return sandbox.seed_provider(body["id"], body["name"])
    if route == ("POST", "/_admin/products") and "notify" in body:
        product = sandbox.create_product(
            body["shop_id"],
            body.get("id"),
            title=body.get("title", "Sandbox product"),
            skus=body.get("skus", []),
            notify=bool(body["notify"]),
        )
        return _product_and_notifications(sandbox, product.id)
    if method == "POST" and (match := re.fullmatch(r"/_admin/products/([\w-]+)/change", path)):
        product = sandbox.change_product(
            match.group(1),
            title=body.get("title"),
            add_skus=body.get("add_skus", []),
            remove_sku_ids=body.get("remove_sku_ids", []),
            notify=bool(body.get("notify", True)),
        )
        return _product_and_notifications(sandbox, product.id)
    if method == "POST" and (match := re.fullmatch(r"/_admin/products/([\w-]+)/status", path)):
        product = sandbox.set_product_status(
            match.group(1), body["status"], notify=bool(body.get("notify", True))
        )
        return _product_and_notifications(sandbox, product.id)
    if method == "POST" and (
        match := re.fullmatch(r"/_admin/products/([\w-]+)/skus/([\w-]+)/status", path)
    ):
        product = sandbox.set_sku_status(
            match.group(1), match.group(2), body["status"], notify=bool(body.get("notify", True))
        )
        return _product_and_notifications(sandbox, product.id)
    if route == ("POST", "/_admin/products"):
        product = sandbox.seed_product(
            body["shop_id"],
            body.get("id"),
            title=body.get("title", "Sandbox product"),
            skus=body.get("skus", []),
        )
        return {"id": product.id, "skus": list(product.skus)}
    if route == ("POST", "/_admin/orders"):
        return sandbox.seed_order(
            body["shop_id"],
            body.get("id"),
            status=body.get("status", "AWAITING_SHIPMENT"),
            items=body.get("items", []),
            package_split=body.get("package_split"),
            create_time=body.get("create_time"),
            update_time=body.get("update_time"),
        ).to_api()
    if method == "POST" and (match := re.fullmatch(r"/_admin/orders/([\w-]+)/status", path)):
        return sandbox.set_order_status(
            match.group(1), body["status"], notify=bool(body.get("notify", True))
        ).to_api()
    if route == ("POST", "/_admin/orders/place"):
        order = sandbox.place_order(
            body["shop_id"],
            body["items"],
            order_id=body.get("id"),
            paid=bool(body.get("paid", True)),
            on_hold=bool(body.get("on_hold", True)),
            warehouse_id=body.get("warehouse_id"),
            package_split=body.get("package_split"),
            buyer_message=body.get("buyer_message", ""),
            notify=bool(body.get("notify", True)),
            at=body.get("at"),
        )
        return _order_and_notifications(sandbox, order.id)
    if method == "POST" and (match := re.fullmatch(r"/_admin/orders/([\w-]+)/advance", path)):
        before = len(sandbox.notifications_for(match.group(1)))
        order = sandbox.advance_order(
            match.group(1),
            body["status"],
            notify=bool(body.get("notify", True)),
            at=body.get("at"),
            cancellation_initiator=body.get("cancellation_initiator", "BUYER"),
            cancel_reason=body.get("cancel_reason", "No longer needed"),
        )
        return _order_and_notifications(sandbox, order.id, since=before)
    if method == "POST" and (match := re.fullmatch(r"/_admin/orders/([\w-]+)/address", path)):
        before = len(sandbox.notifications_for(match.group(1)))
        order = sandbox.change_address(
            match.group(1),
            notify=bool(body.get("notify", True)),
            at=body.get("at"),
            address=body.get("address"),
        )
        return _order_and_notifications(sandbox, order.id, since=before)
    if route == ("GET", "/_admin/notifications"):
        event_type = int(query["type"]) if query.get("type") else None
        found = sandbox.notifications_for(query.get("order_id") or None, type=event_type)
        return [n.envelope() for n in found]
    if route == ("POST", "/_admin/faults"):
        return sandbox.inject_fault(
            body.pop("path"), body.pop("kind"), int(body.pop("count", 1)), **body
        ).to_json()
    if route == ("DELETE", "/_admin/faults"):
        sandbox.clear_faults()
        return {}
    if route == ("GET", "/_admin/requests"):
        return sandbox.requests(query.get("path_prefix", ""))
    if route == ("DELETE", "/_admin/requests"):
        sandbox.clear_requests()
        return {}
    if route == ("POST", "/_admin/webhooks/deliver"):
        notifications = [
            Notification(
                type=int(n["type"]),
                shop_id=str(n["shop_id"]),
                data=dict(n.get("data", {})),
                tts_notification_id=str(n.get("tts_notification_id", "")),
                timestamp=int(n.get("timestamp", 0)),
            )
            for n in body.get("notifications", [])
        ]
        deliveries = sandbox.deliver_webhooks(
            body["url"],
            notifications,
            duplicates=int(body.get("duplicates", 0)),
            ordering=body.get("ordering", "as_given"),
            seed=int(body.get("seed", 0)),
            bad_signature=bool(body.get("bad_signature", False)),
        )
        return [dataclasses.asdict(d) for d in deliveries]
    raise LookupError(f"{method} {path}")


def _order_and_notifications(sandbox: Sandbox, order_id: str, since: int = 0) -> dict[str, Any]:
    with sandbox.state.lock:
        order = sandbox.state.orders[order_id].to_api()
    sent = sandbox.notifications_for(order_id)[since:]
    return {"order": order, "notifications": [n.envelope() for n in sent]}


def _product_and_notifications(sandbox: Sandbox, product_id: str) -> dict[str, Any]:
    """The product as Get Product Detail shows it and the last webhook it made TikTok send."""
    with sandbox.state.lock:
        product = sandbox.state.products[product_id].to_api()
    sent = [n for n in sandbox.notifications_for() if n.data.get("product_id") == product_id]
    return {"product": product, "notifications": [n.envelope() for n in sent[-1:]]}
