"""The Partner API endpoints the client calls, implemented against SandboxState.

Each handler gets a verified `Call` (signature, token, cipher and throttle already checked by
the server) and returns the envelope's `data`, or raises ApiFailure.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from tts_local.sandbox import errors
from tts_local.sandbox.errors import ApiFailure
from tts_local.sandbox.faults import Fault
from tts_local.sandbox.state import Grant, Order, Package, SandboxState, Shop, package_to_api
from tts_local.sandbox.webhooks import EVENT_TYPE_NUMBERS

MAX_ORDER_IDS = 50
MAX_PAGE_SIZE = 100
MAX_SKUS = 100
MAX_QUANTITY = 99_999
TRACKING_UPDATE_WINDOW = 72 * 3600
MAX_TRACKING_UPDATES = 3
MARK_SHIPPED_REGIONS = frozenset({"US", "GB", "UK", "ES", "IE", "IT", "DE", "FR", "JP"})
WEBHOOK_EVENT_TYPES = frozenset(EVENT_TYPE_NUMBERS)  # what the Event API accepts
Scope = Literal["shop", "authorization"]


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    params: dict[str, str]  # path parameters
    grant: Grant
    shop: Shop | None
    fault: Fault | None
    options: SandboxOptions

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            parsed = json.loads(self.body)
        except ValueError:
            raise ApiFailure(errors.INVALID_PARAMETER, "body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise ApiFailure(errors.INVALID_PARAMETER, "body must be a JSON object")
        return parsed

    @property
    def shop_id(self) -> str:
        assert self.shop is not None
        return self.shop.id


@dataclass
class SandboxOptions:
    accept_zero_stock: bool = True
    # Answer some ids (mark-shipped's package_id) as JSON numbers, as some TikTok replies do.
    numeric_ids: bool = False


Handler = Callable[[SandboxState, Call], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    scope: Scope


ROUTES: list[Route] = []


def route(method: str, template: str, scope: Scope = "shop") -> Callable[[Handler], Handler]:
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9_-]+)", template) + "$")

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, pattern, handler, scope))
        return handler

    return register


def find_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in ROUTES:
        match = candidate.pattern.match(path)
        if match and candidate.method == method:
            return candidate, match.groupdict()
    return None


def path_exists(path: str) -> bool:
    return any(r.pattern.match(path) for r in ROUTES)


def _now() -> int:
    return int(time.time())


# ---------------------------------------------------------------- authorization


@route("GET", "/authorization/202309/shops", scope="authorization")
def authorized_shops(state: SandboxState, call: Call) -> dict[str, Any]:
    shops = [state.shops[s].to_api() for s in call.grant.shop_ids if s in state.shops]
    return {"shops": shops}


# ---------------------------------------------------------------- orders


def _shop_order(state: SandboxState, call: Call, order_id: str) -> Order:
    order = state.orders.get(order_id)
    if order is None or order.shop_id != call.shop_id:
        raise ApiFailure(errors.NOT_FOUND, f"order {order_id} not found", 404)
    return order


@route("GET", "/order/202309/orders")
def order_detail(state: SandboxState, call: Call) -> dict[str, Any]:
    ids = [i for i in call.query.get("ids", "").split(",") if i]
    if not ids:
        raise ApiFailure(errors.INVALID_PARAMETER, "ids is required")
    if len(ids) > MAX_ORDER_IDS:
        raise ApiFailure(errors.INVALID_PARAMETER, f"at most {MAX_ORDER_IDS} ids per call")
    fault = call.fault
    refused = fault is not None and (not fault.order_ids or bool(set(fault.order_ids) & set(ids)))
    if fault is not None and fault.kind == "reject_orders" and refused:
        # TikTok refusing the whole call for one id it does not accept (permanent).
        raise ApiFailure(errors.INVALID_PARAMETER, "invalid order id", 400)
    if call.fault is not None and call.fault.kind == "omit_orders":
        # TikTok can answer code 0 without an order it was asked for.
        omitted = set(call.fault.order_ids or ids)
        ids = [i for i in ids if i not in omitted]
    found = [state.orders[i] for i in ids if i in state.orders]
    return {"orders": [_api_order(o, call) for o in found if o.shop_id == call.shop_id]}


def _api_order(order: Order, call: Call) -> dict[str, Any]:
    """The order as the API returns it; a malformed_orders fault mangles it (TikTok sending a
    type we do not expect), the buyer's data left in."""
    document = order.to_api()
    fault = call.fault
    chosen = fault is not None and (not fault.order_ids or order.id in fault.order_ids)
    if fault is not None and fault.kind == "malformed_orders" and chosen:
        document["update_time"] = "soon"
        document["line_items"] = "not a list"
        address = document.get("recipient_address") or {}
        if address.get("full_address"):  # an address flattened to its text: PII in errors
            document["recipient_address"] = address["full_address"]
    return document


@route("POST", "/order/202309/orders/search")
def order_search(state: SandboxState, call: Call) -> dict[str, Any]:
    try:
        page_size = int(call.query["page_size"])
    except (KeyError, ValueError):
        raise ApiFailure(errors.INVALID_PARAMETER, "page_size is required") from None
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ApiFailure(errors.INVALID_PARAMETER, f"page_size must be 1..{MAX_PAGE_SIZE}")
    sort_field = call.query.get("sort_field", "create_time")
    if sort_field not in ("create_time", "update_time"):
        raise ApiFailure(errors.INVALID_PARAMETER, "sort_field must be create_time or update_time")
    sort_order = call.query.get("sort_order", "DESC")
    if sort_order not in ("ASC", "DESC"):
        raise ApiFailure(errors.INVALID_PARAMETER, "sort_order must be ASC or DESC")
    filters = call.json()
    offset = _decode_page_token(call.query.get("page_token", ""))
    # While TikTok refreshes its index a search can return orders just outside the window.
    spill = call.fault.spill_seconds if call.fault and call.fault.kind == "range_spill" else 0

    def keep(order: Order) -> bool:
        for name, value in filters.items():
            if name == "order_status":
                if order.status != value:
                    return False
            elif name in ("update_time_ge", "create_time_ge"):
                if getattr(order, name[:-3]) < int(value) - spill:
                    return False
            elif name in ("update_time_lt", "create_time_lt"):
                if getattr(order, name[:-3]) >= int(value) + spill:
                    return False
            else:
                raise ApiFailure(errors.INVALID_PARAMETER, f"unknown filter {name}")
        return True

    matching = sorted(
        (o for o in state.orders.values() if o.shop_id == call.shop_id and keep(o)),
        key=lambda o: (getattr(o, sort_field), o.id),
        reverse=sort_order == "DESC",
    )
    page = matching[offset : offset + page_size]
    more = offset + page_size < len(matching)
    return {
        "orders": [_api_order(o, call) for o in page],
        "next_page_token": _encode_page_token(offset + page_size) if more else "",
        "total_count": len(matching),
    }


def _encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_page_token(token: str) -> int:
    if not token:
        return 0
    try:
        prefix, value = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if prefix != "offset":
            raise ValueError(prefix)
        return int(value)
    except ValueError:
        raise ApiFailure(errors.INVALID_PARAMETER, "invalid page_token") from None


# ---------------------------------------------------------------- logistics


@route("GET", "/logistics/202309/warehouses")
def warehouses(state: SandboxState, call: Call) -> dict[str, Any]:
    own = [w.to_api() for w in state.warehouses.values() if w.shop_id == call.shop_id]
    return {"warehouses": own}


@route("GET", "/logistics/202309/warehouses/{warehouse_id}/delivery_options")
def delivery_options(state: SandboxState, call: Call) -> dict[str, Any]:
    warehouse = state.warehouses.get(call.params["warehouse_id"])
    if warehouse is None or warehouse.shop_id != call.shop_id:
        raise ApiFailure(errors.NOT_FOUND, "warehouse not found", 404)
    options = [state.delivery_options[i] for i in warehouse.delivery_option_ids]
    return {"delivery_options": [{"id": o.id, "name": o.name, "type": o.type} for o in options]}


@route("GET", "/logistics/202309/delivery_options/{delivery_option_id}/shipping_providers")
def shipping_providers(state: SandboxState, call: Call) -> dict[str, Any]:
    option = state.delivery_options.get(call.params["delivery_option_id"])
    if option is None:
        raise ApiFailure(errors.NOT_FOUND, "delivery option not found", 404)
    providers = [state.providers[i] for i in option.provider_ids]
    return {"shipping_providers": [{"id": p.id, "name": p.name} for p in providers]}


# ---------------------------------------------------------------- products


def _item_error(code: int, message: str, sku_id: str, warehouse_id: str = "") -> dict[str, Any]:
    """TikTok's shape: {code, message, detail{sku_id, extra_errors[{warehouse_id, code,
    message}]}}; detail.warehouse_id is kept for clients that read the older flat form."""
    detail: dict[str, Any] = {"sku_id": sku_id}
    if warehouse_id:
        detail["warehouse_id"] = warehouse_id
        detail["extra_errors"] = [{"warehouse_id": warehouse_id, "code": code, "message": message}]
    return {"code": code, "message": message, "detail": detail}


def _injected_errors(call: Call, sku_ids: list[str]) -> dict[str, dict[str, Any]]:
    fault = call.fault
    if fault is None or fault.kind != "sku_errors":
        return {}
    targets = fault.sku_ids or sku_ids
    return {
        s: _item_error(errors.INJECTED_ITEM_ERROR, "injected SKU failure", s)
        for s in targets
        if s in sku_ids
    }


def _skus_payload(call: Call) -> list[dict[str, Any]]:
    skus = call.json().get("skus")
    if not isinstance(skus, list) or not skus:
        raise ApiFailure(errors.INVALID_PARAMETER, "skus is required")
    if len(skus) > MAX_SKUS:
        raise ApiFailure(errors.INVALID_PARAMETER, f"at most {MAX_SKUS} skus per call")
    return [s for s in skus if isinstance(s, dict)]


@route("POST", "/product/202309/products/{product_id}/inventory/update")
def update_inventory(state: SandboxState, call: Call) -> dict[str, Any]:
    product = state.products.get(call.params["product_id"])
    if product is None or product.shop_id != call.shop_id:
        raise ApiFailure(errors.NOT_FOUND, "product not found", 404)
    skus = _skus_payload(call)
    injected = _injected_errors(call, [str(s.get("id", "")) for s in skus])
    item_errors: list[dict[str, Any]] = []
    minimum = 0 if call.options.accept_zero_stock else 1
    for entry in skus:
        sku_id = str(entry.get("id", ""))
        if sku_id in injected:
            item_errors.append(injected[sku_id])
            continue
        if product.status != "ACTIVATE":
            message = f"product is {product.status}: stock cannot be updated"
            item_errors.append(_item_error(errors.PRODUCT_DELETED, message, sku_id))
            continue
        sku = product.skus.get(sku_id)
        if sku is None:
            item_errors.append(_item_error(errors.SKU_NOT_FOUND, "SKU not in product", sku_id))
            continue
        levels = {str(i.get("warehouse_id")): i.get("quantity") for i in entry.get("inventory", [])}
        # TikTok's rule: list exactly the warehouses the SKU is stocked in.
        missing = set(sku.stock) - set(levels)
        extra = set(levels) - set(sku.stock)
        if missing or extra:
            warehouse = sorted(missing or extra)[0]
            reason = "warehouse missing from the update" if missing else "SKU not in warehouse"
            item_errors.append(_item_error(errors.WAREHOUSE_MISMATCH, reason, sku_id, warehouse))
            continue
        bad = next(
            (
                w
                for w, q in levels.items()
                if not isinstance(q, int) or isinstance(q, bool) or not minimum <= q <= MAX_QUANTITY
            ),
            None,
        )
        if bad is not None:
            message = f"quantity must be {minimum}..{MAX_QUANTITY}"
            item_errors.append(_item_error(errors.QUANTITY_OUT_OF_RANGE, message, sku_id, bad))
            continue
        sku.stock = {w: int(q) for w, q in levels.items()}
    return {"errors": item_errors} if item_errors else {}


def _shop_products(state: SandboxState, call: Call) -> list[Any]:
    return sorted(
        (p for p in state.products.values() if p.shop_id == call.shop_id), key=lambda p: p.id
    )


@route("POST", "/product/202309/products/search")
@route("POST", "/product/202502/products/search")
def search_products(state: SandboxState, call: Call) -> dict[str, Any]:
    """Product Search: page_size (<= 100) and page_token in the query, filters in the body
    (`status`: ALL or one product status)."""
    try:
        page_size = int(call.query["page_size"])
    except (KeyError, ValueError):
        raise ApiFailure(errors.INVALID_PARAMETER, "page_size is required") from None
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ApiFailure(errors.INVALID_PARAMETER, f"page_size must be 1..{MAX_PAGE_SIZE}")
    wanted = call.json().get("status", "ALL")
    offset = _decode_page_token(call.query.get("page_token", ""))
    matching = [p for p in _shop_products(state, call) if wanted in ("ALL", p.status)]
    page = matching[offset : offset + page_size]
    more = offset + page_size < len(matching)
    return {
        "products": [p.to_api() for p in page],
        "next_page_token": _encode_page_token(offset + page_size) if more else "",
        "total_count": len(matching),
    }


@route("GET", "/product/202309/products/{product_id}")
@route("GET", "/product/202502/products/{product_id}")
def product_detail(state: SandboxState, call: Call) -> dict[str, Any]:
    product = state.products.get(call.params["product_id"])
    if product is None or product.shop_id != call.shop_id:
        raise ApiFailure(errors.NOT_FOUND, "product not found", 404)
    return product.to_api()


@route("POST", "/product/202309/products/{product_id}/prices/update")
def update_prices(state: SandboxState, call: Call) -> dict[str, Any]:
    product = state.products.get(call.params["product_id"])
    if product is None or product.shop_id != call.shop_id:
        raise ApiFailure(errors.NOT_FOUND, "product not found", 404)
    skus = _skus_payload(call)
    injected = _injected_errors(call, [str(s.get("id", "")) for s in skus])
    item_errors: list[dict[str, Any]] = []
    for entry in skus:
        sku_id = str(entry.get("id", ""))
        if sku_id in injected:
            item_errors.append(injected[sku_id])
            continue
        sku = product.skus.get(sku_id)
        if sku is None:
            item_errors.append(_item_error(errors.SKU_NOT_FOUND, "SKU not in product", sku_id))
            continue
        price = entry.get("price") or {}
        try:
            amount = Decimal(str(price.get("amount")))
            valid = amount > 0 and amount.is_finite()
        except InvalidOperation:
            valid = False
        if not valid or not price.get("currency"):
            item_errors.append(_item_error(errors.PRICE_INVALID, "invalid price", sku_id))
            continue
        sku.price_amount, sku.currency = str(price["amount"]), str(price["currency"])
    return {"errors": item_errors} if item_errors else {}


# ---------------------------------------------------------------- fulfilment


def _shop_package(state: SandboxState, call: Call) -> Package:
    package = state.packages.get(call.params["package_id"])
    if package is None or package.shop_id != call.shop_id:
        raise ApiFailure(errors.NOT_FOUND, "package not found", 404)
    return package


def _require_provider(state: SandboxState, provider_id: object) -> str:
    if not isinstance(provider_id, str) or provider_id not in state.providers:
        raise ApiFailure(errors.INVALID_PARAMETER, "unknown shipping_provider_id")
    return provider_id


def _require_tracking(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiFailure(errors.INVALID_PARAMETER, "tracking_number is required")
    return value


def _after_shipment(state: SandboxState, order: Order) -> None:
    order.rts_time = order.rts_time or _now()
    shipped = {p.id for p in state.packages.values() if p.status != "PROCESSING"}
    items = order.line_items
    if all(i.package_id in shipped for i in items):
        order.status = "IN_TRANSIT"
    elif any(i.package_id in shipped for i in items):
        order.status = "PARTIALLY_SHIPPING"
    order.update_time = max(_now(), order.update_time + 1)  # TikTok's clock never goes back


def _check_shippable(order: Order, region: str = "") -> None:
    if order.status not in ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"):
        raise ApiFailure(errors.ORDER_NOT_SHIPPABLE, f"order is {order.status}; cannot ship")
    if order.buyer_cancel_requested:
        if region != "US":
            raise ApiFailure(
                errors.CANCELLATION_REQUEST_PENDING, "the buyer's cancellation request is pending"
            )
        order.buyer_cancel_requested = False  # in the US shipping rejects the request


@route("POST", "/fulfillment/202309/packages/{package_id}/ship")
def ship_package(state: SandboxState, call: Call) -> dict[str, Any]:
    package = _shop_package(state, call)
    shipment = call.json().get("self_shipment") or {}
    tracking = _require_tracking(shipment.get("tracking_number"))
    provider = _require_provider(state, shipment.get("shipping_provider_id"))
    if package.status != "PROCESSING":
        raise ApiFailure(errors.ORDER_NOT_SHIPPABLE, "package already shipped")
    orders = [state.orders[o] for o in package.order_ids]
    region = call.shop.region if call.shop is not None else ""
    for order in orders:
        _check_shippable(order, region)
    package.status, package.tracking_number = "FULFILLING", tracking
    package.shipping_provider_id, package.shipped_at = provider, _now()
    for order in orders:
        _after_shipment(state, order)
    return {}


@route("POST", "/fulfillment/202309/orders/{order_id}/packages")
def mark_shipped(state: SandboxState, call: Call) -> dict[str, Any]:
    order = _shop_order(state, call, call.params["order_id"])
    assert call.shop is not None
    if call.shop.region not in MARK_SHIPPED_REGIONS:
        raise ApiFailure(errors.MARK_SHIPPED_NOT_AVAILABLE, "not available in this shop's region")
    body = call.json()
    tracking = _require_tracking(body.get("tracking_number"))
    provider = _require_provider(state, body.get("shipping_provider_id"))
    _check_shippable(order, call.shop.region)
    shipped = {p.id for p in state.packages.values() if p.status != "PROCESSING"}
    open_items = [i for i in order.line_items if i.package_id not in shipped]
    wanted = body.get("order_line_item_ids") or [i.id for i in open_items]
    items = [i for i in open_items if i.id in set(wanted)]
    if len(items) != len(set(wanted)):
        raise ApiFailure(errors.INVALID_PARAMETER, "unknown or already shipped line item")
    package = Package(
        id=state.next_id(),
        shop_id=order.shop_id,
        order_ids=[order.id],
        status="FULFILLING",
        tracking_number=tracking,
        shipping_provider_id=provider,
        shipped_at=_now(),
    )
    state.packages[package.id] = package
    order.attach_package(package, items)
    _after_shipment(state, order)
    return {"package_id": int(package.id) if call.options.numeric_ids else package.id}


@route("POST", "/fulfillment/202309/packages/{package_id}/shipping_info/update")
def update_shipping_info(state: SandboxState, call: Call) -> dict[str, Any]:
    package = _shop_package(state, call)
    body = call.json()
    tracking = _require_tracking(body.get("tracking_number"))
    provider = _require_provider(state, body.get("shipping_provider_id"))
    if package.shipped_at is None:
        raise ApiFailure(errors.TRACKING_UPDATE_REFUSED, "package not shipped yet")
    if _now() - package.shipped_at > TRACKING_UPDATE_WINDOW:
        raise ApiFailure(errors.TRACKING_UPDATE_REFUSED, "more than 72 h after shipping")
    if package.tracking_updates >= MAX_TRACKING_UPDATES:
        raise ApiFailure(errors.TRACKING_UPDATE_REFUSED, "too many tracking updates")
    package.tracking_number, package.shipping_provider_id = tracking, provider
    package.tracking_updates += 1
    return {}


@route("GET", "/fulfillment/202309/packages/{package_id}")
def package_detail(state: SandboxState, call: Call) -> dict[str, Any]:
    return package_to_api(_shop_package(state, call), state)


# ---------------------------------------------------------------- event webhooks


@route("GET", "/event/202309/webhooks")
def list_webhooks(state: SandboxState, call: Call) -> dict[str, Any]:
    hooks = [
        {"event_type": event_type, "address": address}
        for (shop_id, event_type), address in state.webhooks.items()
        if shop_id == call.shop_id
    ]
    return {"webhooks": hooks, "total_count": len(hooks)}


def _event_type(body: dict[str, Any]) -> str:
    event_type = body.get("event_type")
    if event_type not in WEBHOOK_EVENT_TYPES:
        raise ApiFailure(errors.INVALID_PARAMETER, "unknown event_type")
    return str(event_type)


@route("PUT", "/event/202309/webhooks")
def put_webhook(state: SandboxState, call: Call) -> dict[str, Any]:
    body = call.json()
    event_type = _event_type(body)
    address = body.get("address")
    if not isinstance(address, str) or not address.startswith(("https://", "http://")):
        raise ApiFailure(errors.INVALID_PARAMETER, "address must be an http(s) URL")
    state.webhooks[(call.shop_id, event_type)] = address
    return {}


@route("DELETE", "/event/202309/webhooks")
def delete_webhook(state: SandboxState, call: Call) -> dict[str, Any]:
    event_type = _event_type(call.json())
    if state.webhooks.pop((call.shop_id, event_type), None) is None:
        raise ApiFailure(errors.NOT_FOUND, "no webhook for this event type", 404)
    return {}
