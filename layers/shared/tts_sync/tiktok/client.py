"""Typed TikTok Shop Partner API calls (version 202309; product search and detail use the
version the config names per endpoint).

    client = TikTokClient(app_key, app_secret, limiter=dynamo_rate_limiter())
    shop = ShopAccess(shop_id=..., shop_cipher=..., access_token=...)
    orders = client.get_order_detail(shop, ["576..."], deadline=deadline_from_lambda_context(ctx))

Each method validates what TikTok would reject, calls through SignedTransport (signing, shared
rate limit, retries, token refresh) and returns pydantic models. Calls that can half-succeed
(stock, price) return ItemOutcome: code 0 with data.errors[] is a partial failure, per SKU.
Stock and price updates set absolute values and are retried like reads; the fulfilment POSTs
(ship_package, mark_shipped, update_shipping_info) are not idempotent: after a failure TikTok may
already have applied they raise TikTokOutcomeUnknownError instead of retrying.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import ValidationError

from tts_sync.observability import logger
from tts_sync.tiktok.errors import (
    TikTokOutcomeUnknownError,
    TikTokPermanentError,
    TikTokRequestRejectedError,
)
from tts_sync.tiktok.models import (
    AccessToken,
    AuthorizedShop,
    DeliveryOption,
    EventWebhook,
    ItemError,
    ItemOutcome,
    MalformedOrder,
    Order,
    OrderSearchFilter,
    OrderSearchPage,
    PackageDetail,
    Product,
    ProductSearchPage,
    ShippedPackage,
    ShippingProvider,
    SkuPrice,
    SkuStock,
    Warehouse,
)
from tts_sync.tiktok.retry import Deadline
from tts_sync.tiktok.transport import ApiResponse, ShopAccess, SignedTransport

ORDER_DETAIL_BATCH = 50
MAX_PAGE_SIZE = 100
MAX_SKUS_PER_STOCK_UPDATE = 100
MAX_STOCK_QUANTITY = 99_999
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")  # used with fullmatch: no trailing newline


class TikTokClient(SignedTransport):
    """The outbound client: one per container, thread-safe (httpx.Client is)."""

    # ------------------------------------------------------------------ tokens (auth host)

    def get_access_token(self, auth_code: str, *, deadline: Deadline | None = None) -> AccessToken:
        response = self.call_auth(
            "/api/v2/token/get",
            {"auth_code": auth_code, "grant_type": "authorized_code"},
            deadline,
            idempotent=False,  # the auth code is single use
        )
        return _access_token(response)

    def refresh_access_token(
        self, refresh_token: str, *, deadline: Deadline | None = None
    ) -> AccessToken:
        response = self.call_auth(
            "/api/v2/token/refresh",
            {"refresh_token": refresh_token, "grant_type": "refresh_token"},
            deadline,
            idempotent=False,  # TikTok may rotate refresh tokens: once answered, it is spent
        )
        return _access_token(response)

    # ------------------------------------------------------------------ authorization

    def get_authorized_shops(
        self, access_token: str, *, deadline: Deadline | None = None
    ) -> list[AuthorizedShop]:
        # Not shop-scoped: no shop_cipher, no per-shop budget.
        response = self.call(
            "GET", "/authorization/202309/shops", access_token=access_token, deadline=deadline
        )
        return [AuthorizedShop.model_validate(shop) for shop in response.data.get("shops", [])]

    # ------------------------------------------------------------------ orders

    def get_order_detail(
        self,
        shop: ShopAccess,
        order_ids: Sequence[str],
        *,
        deadline: Deadline | None = None,
        malformed: list[MalformedOrder] | None = None,
    ) -> list[Order]:
        """Orders by id, fetched in batches of 50 (TikTok's cap); duplicates asked once.

        An order of the reply that does not parse is appended to `malformed` (the others are
        returned); without that list it raises TikTokPermanentError naming the fields only."""
        unique_ids = list(dict.fromkeys(order_ids))
        orders: list[Order] = []
        for start in range(0, len(unique_ids), ORDER_DETAIL_BATCH):
            batch = unique_ids[start : start + ORDER_DETAIL_BATCH]
            response = self._shop_call(
                "GET",
                "/order/202309/orders",
                shop,
                query={"ids": ",".join(batch)},
                deadline=deadline,
            )
            parsed, bad = _parse_orders(response.data.get("orders") or [])
            orders.extend(parsed)
            _report_malformed(bad, malformed, response.request_id)
        return orders

    def search_orders_page(
        self,
        shop: ShopAccess,
        search: OrderSearchFilter,
        *,
        page_size: int = MAX_PAGE_SIZE,
        page_token: str = "",
        sort_order: str = "ASC",
        deadline: Deadline | None = None,
    ) -> OrderSearchPage:
        """One page; orders that do not parse are listed in `malformed`, not raised."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise TikTokRequestRejectedError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        if sort_order not in ("ASC", "DESC"):
            raise TikTokRequestRejectedError("sort_order must be ASC or DESC")
        # sort_order always sent: TikTok's default is not documented the same everywhere.
        query = {"page_size": str(page_size), "sort_field": "update_time", "sort_order": sort_order}
        if page_token:
            query["page_token"] = page_token
        response = self._shop_call(
            "POST",
            "/order/202309/orders/search",
            shop,
            query=query,
            body=search.model_dump(mode="json", exclude_none=True),
            deadline=deadline,
            idempotent=True,
        )
        raw_orders = response.data.get("orders") or []
        try:
            page = OrderSearchPage.model_validate({**response.data, "orders": []})
        except ValidationError as exc:
            raise TikTokPermanentError(
                f"malformed order search reply ({_problems(exc)})",
                request_id=response.request_id or None,
            ) from None
        orders, bad = _parse_orders(raw_orders)
        return page.model_copy(update={"orders": orders, "malformed": bad})

    def search_orders(
        self,
        shop: ShopAccess,
        search: OrderSearchFilter,
        *,
        page_size: int = MAX_PAGE_SIZE,
        sort_order: str = "ASC",
        deadline: Deadline | None = None,
        malformed: list[MalformedOrder] | None = None,
    ) -> Iterator[Order]:
        """Every matching order, following next_page_token until TikTok returns none. Orders
        that do not parse go to `malformed` (without it: TikTokPermanentError)."""
        page_token = ""  # an empty page cursor, not a secret  # nosec B105
        while True:
            page = self.search_orders_page(
                shop,
                search,
                page_size=page_size,
                page_token=page_token,
                sort_order=sort_order,
                deadline=deadline,
            )
            _report_malformed(list(page.malformed), malformed, None)
            yield from page.orders
            if not page.next_page_token or page.next_page_token == page_token:
                return
            page_token = page.next_page_token

    # ------------------------------------------------------------------ logistics

    def get_warehouses(
        self, shop: ShopAccess, *, deadline: Deadline | None = None
    ) -> list[Warehouse]:
        response = self._shop_call("GET", "/logistics/202309/warehouses", shop, deadline=deadline)
        return [Warehouse.model_validate(w) for w in response.data.get("warehouses", [])]

    def get_delivery_options(
        self, shop: ShopAccess, warehouse_id: str, *, deadline: Deadline | None = None
    ) -> list[DeliveryOption]:
        path = f"/logistics/202309/warehouses/{_segment(warehouse_id)}/delivery_options"
        response = self._shop_call("GET", path, shop, deadline=deadline)
        return [DeliveryOption.model_validate(d) for d in response.data.get("delivery_options", [])]

    def get_shipping_providers(
        self, shop: ShopAccess, delivery_option_id: str, *, deadline: Deadline | None = None
    ) -> list[ShippingProvider]:
        path = (
            f"/logistics/202309/delivery_options/{_segment(delivery_option_id)}/shipping_providers"
        )
        response = self._shop_call("GET", path, shop, deadline=deadline)
        providers = response.data.get("shipping_providers", response.data.get("providers", []))
        return [ShippingProvider.model_validate(p) for p in providers]

    # ------------------------------------------------------------------ products

    def update_stock(
        self,
        shop: ShopAccess,
        product_id: str,
        skus: Sequence[SkuStock],
        *,
        deadline: Deadline | None = None,
    ) -> ItemOutcome:
        """Set stock of SKUs of ONE product; each SKU must list every warehouse it is in."""
        self._check_skus([sku.sku_id for sku in skus])
        payload = []
        for sku in skus:
            inventory = []
            for level in sku.levels:
                quantity = self._allowed_quantity(sku.sku_id, level.quantity)
                inventory.append({"warehouse_id": level.warehouse_id, "quantity": quantity})
            payload.append({"id": sku.sku_id, "inventory": inventory})
        response = self._shop_call(
            "POST",
            f"/product/202309/products/{_segment(product_id)}/inventory/update",
            shop,
            body={"skus": payload},
            deadline=deadline,
            idempotent=True,
        )
        return _item_outcome(response, [sku.sku_id for sku in skus])

    def search_products_page(
        self,
        shop: ShopAccess,
        *,
        page_size: int = MAX_PAGE_SIZE,
        page_token: str = "",
        status: str = "ALL",
        deadline: Deadline | None = None,
    ) -> ProductSearchPage:
        """One page of Product Search (version: config.product_search_version)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise TikTokRequestRejectedError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        query = {"page_size": str(page_size)}
        if page_token:
            query["page_token"] = page_token
        version = self.config.product_search_version
        response = self._shop_call(
            "POST",
            f"/product/{version}/products/search",
            shop,
            query=query,
            body={"status": status},
            deadline=deadline,
            idempotent=True,
        )
        return ProductSearchPage.model_validate(response.data)

    def search_products(
        self, shop: ShopAccess, *, status: str = "ALL", deadline: Deadline | None = None
    ) -> Iterator[Product]:
        """Every product of the shop, following next_page_token."""
        page_token = ""  # an empty page cursor, not a secret  # nosec B105
        while True:
            page = self.search_products_page(
                shop, page_token=page_token, status=status, deadline=deadline
            )
            yield from page.products
            if not page.next_page_token or page.next_page_token == page_token:
                return
            page_token = page.next_page_token

    def get_product_detail(
        self, shop: ShopAccess, product_id: str, *, deadline: Deadline | None = None
    ) -> Product:
        """Get Product Detail (version: config.product_detail_version)."""
        version = self.config.product_detail_version
        response = self._shop_call(
            "GET", f"/product/{version}/products/{_segment(product_id)}", shop, deadline=deadline
        )
        return Product.model_validate(response.data)

    def update_price(
        self,
        shop: ShopAccess,
        product_id: str,
        prices: Sequence[SkuPrice],
        *,
        deadline: Deadline | None = None,
    ) -> ItemOutcome:
        self._check_skus([price.sku_id for price in prices])
        body = {
            "skus": [
                {"id": p.sku_id, "price": {"amount": p.amount, "currency": p.currency}}
                for p in prices
            ]
        }
        response = self._shop_call(
            "POST",
            f"/product/202309/products/{_segment(product_id)}/prices/update",
            shop,
            body=body,
            deadline=deadline,
            idempotent=True,
        )
        return _item_outcome(response, [price.sku_id for price in prices])

    # ------------------------------------------------------------------ fulfilment

    def ship_package(
        self,
        shop: ShopAccess,
        package_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        *,
        deadline: Deadline | None = None,
    ) -> None:
        body = {
            "self_shipment": {
                "tracking_number": tracking_number,
                "shipping_provider_id": shipping_provider_id,
            }
        }
        self._shop_call(
            "POST",
            f"/fulfillment/202309/packages/{_segment(package_id)}/ship",
            shop,
            body=body,
            deadline=deadline,
            idempotent=False,  # sent twice, TikTok may ship twice
        )

    def mark_shipped(
        self,
        shop: ShopAccess,
        order_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        order_line_item_ids: Sequence[str] = (),
        *,
        deadline: Deadline | None = None,
    ) -> ShippedPackage:
        """Mark (part of) an order shipped with a tracking number (US/UK/EU/JP markets only)."""
        body: dict[str, Any] = {
            "tracking_number": tracking_number,
            "shipping_provider_id": shipping_provider_id,
        }
        if order_line_item_ids:
            body["order_line_item_ids"] = list(order_line_item_ids)
        response = self._shop_call(
            "POST",
            f"/fulfillment/202309/orders/{_segment(order_id)}/packages",
            shop,
            body=body,
            deadline=deadline,
            idempotent=False,  # sent twice, TikTok may ship twice
        )
        try:
            return ShippedPackage.model_validate(response.data)
        except ValidationError:
            # TikTok said code 0: it shipped. A reply we cannot read must not look like a
            # failure to fix and resend (nor leak as a non-TikTok error).
            raise TikTokOutcomeUnknownError(
                f"mark shipped of order {order_id} succeeded but its reply could not be read; "
                "check the order's packages before sending it again",
                request_id=response.request_id or None,
            ) from None

    def update_shipping_info(
        self,
        shop: ShopAccess,
        package_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        *,
        deadline: Deadline | None = None,
    ) -> None:
        """Correct tracking: TikTok allows it within 72 h of shipping, a limited number of times."""
        body = {"tracking_number": tracking_number, "shipping_provider_id": shipping_provider_id}
        self._shop_call(
            "POST",
            f"/fulfillment/202309/packages/{_segment(package_id)}/shipping_info/update",
            shop,
            body=body,
            deadline=deadline,
            idempotent=False,  # each application uses one of the few updates allowed
        )

    def get_package_detail(
        self, shop: ShopAccess, package_id: str, *, deadline: Deadline | None = None
    ) -> PackageDetail:
        response = self._shop_call(
            "GET", f"/fulfillment/202309/packages/{_segment(package_id)}", shop, deadline=deadline
        )
        return PackageDetail.model_validate(response.data)

    # ------------------------------------------------------------------ event webhooks

    def get_event_webhooks(
        self, shop: ShopAccess, *, deadline: Deadline | None = None
    ) -> list[EventWebhook]:
        response = self._shop_call("GET", "/event/202309/webhooks", shop, deadline=deadline)
        return [EventWebhook.model_validate(w) for w in response.data.get("webhooks", [])]

    def update_event_webhook(
        self, shop: ShopAccess, event_type: str, address: str, *, deadline: Deadline | None = None
    ) -> None:
        self._shop_call(
            "PUT",
            "/event/202309/webhooks",
            shop,
            body={"address": address, "event_type": event_type},
            deadline=deadline,
            idempotent=True,
        )

    def delete_event_webhook(
        self, shop: ShopAccess, event_type: str, *, deadline: Deadline | None = None
    ) -> None:
        self._shop_call(
            "DELETE",
            "/event/202309/webhooks",
            shop,
            body={"event_type": event_type},
            deadline=deadline,
            idempotent=True,
        )

    # ------------------------------------------------------------------ helpers

    def _shop_call(
        self,
        method: str,
        path: str,
        shop: ShopAccess,
        *,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        deadline: Deadline | None,
        idempotent: bool = True,
    ) -> ApiResponse:
        return self.call(
            method,
            path,
            access_token=shop.access_token,
            shop=shop,
            query=query,
            body=body,
            deadline=deadline,
            idempotent=idempotent,
        )

    def _check_skus(self, sku_ids: Sequence[str]) -> None:
        if not sku_ids:
            raise TikTokRequestRejectedError("no SKUs given")
        if len(sku_ids) > MAX_SKUS_PER_STOCK_UPDATE:
            raise TikTokRequestRejectedError(
                f"{len(sku_ids)} SKUs in one call; a product has at most "
                f"{MAX_SKUS_PER_STOCK_UPDATE}"
            )
        if len(set(sku_ids)) != len(sku_ids):
            raise TikTokRequestRejectedError("a SKU is listed twice")

    def _allowed_quantity(self, sku_id: str, quantity: int) -> int:
        if quantity == 0 and self.config.stock_zero_policy == "reject":
            raise TikTokRequestRejectedError(f"quantity 0 for SKU {sku_id} (zero policy: reject)")
        if quantity > MAX_STOCK_QUANTITY:
            logger.info("stock capped at TikTok maximum", sku_id=sku_id, quantity=quantity)
            return MAX_STOCK_QUANTITY
        return quantity


def _parse_orders(raw_orders: Any) -> tuple[list[Order], list[MalformedOrder]]:
    """Each order on its own: one TikTok sends with an unexpected type spoils only itself."""
    orders: list[Order] = []
    malformed: list[MalformedOrder] = []
    for raw in raw_orders if isinstance(raw_orders, list) else [raw_orders]:
        try:
            orders.append(Order.model_validate(raw))
        except ValidationError as exc:
            malformed.append(_malformed(raw, exc))
    return orders, malformed


def _malformed(raw: Any, exc: ValidationError) -> MalformedOrder:
    document = raw if isinstance(raw, dict) else {}
    order_id = document.get("id")
    update_time = document.get("update_time")
    return MalformedOrder(
        order_id=str(order_id) if isinstance(order_id, (str, int)) else "",
        update_time=update_time if type(update_time) is int else None,
        problems=_problems(exc),
    )


def _problems(exc: ValidationError) -> str:
    """Field paths and messages of a ValidationError, never its input."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'data'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)[:10]
    )


def _report_malformed(
    bad: list[MalformedOrder], into: list[MalformedOrder] | None, request_id: str | None
) -> None:
    if not bad:
        return
    if into is None:
        raise TikTokPermanentError(
            f"{len(bad)} malformed order(s) in reply ({bad[0].problems})",
            request_id=request_id or None,
        )
    into.extend(bad)


def _access_token(response: ApiResponse) -> AccessToken:
    """A token reply missing or mangling a field is permanent; the error names the fields only:
    pydantic's own message quotes the input, which holds the tokens."""
    try:
        return AccessToken.model_validate(response.data)
    except ValidationError as exc:
        problems = _problems(exc)
    # Raised outside the except block: not even __context__ keeps the ValidationError.
    raise TikTokPermanentError(
        f"malformed token reply ({problems})", request_id=response.request_id or None
    )


def _segment(value: str) -> str:
    """An id used as a path segment; refuse anything that would change the path. ASCII only:
    httpx percent-encodes other characters but the signature covers the raw path, so TikTok
    would answer 106001 (invalid sign) for an id that str.isalnum() lets through."""
    if _PATH_SEGMENT.fullmatch(value) is None:
        raise TikTokRequestRejectedError(f"invalid id for a path segment: {value!r}")
    return value


def _item_outcome(response: ApiResponse, requested: Sequence[str]) -> ItemOutcome:
    """Split requested SKUs into succeeded/failed from data.errors[] of a code-0 reply."""
    errors = [_item_error(raw) for raw in response.data.get("errors") or []]
    failed_ids = {error.sku_id for error in errors}
    if errors and "" in failed_ids:
        # An error we cannot pin to a SKU: claim no success rather than a false one.
        succeeded: list[str] = []
    else:
        succeeded = [sku_id for sku_id in requested if sku_id not in failed_ids]
    if errors:
        logger.warning(
            "tiktok reported per-item errors",
            request_id=response.request_id,
            failed=len(errors),
            codes=sorted({error.code for error in errors}),
        )
    return ItemOutcome(request_id=response.request_id, succeeded=succeeded, failed=errors)


def _item_error(raw: dict[str, Any]) -> ItemError:
    detail = raw.get("detail")
    if not isinstance(detail, dict):
        detail = {}
    extra = detail.get("extra_errors")
    warehouse_ids = [
        str(e["warehouse_id"])
        for e in (extra if isinstance(extra, list) else [])
        if isinstance(e, dict) and e.get("warehouse_id")
    ]
    return ItemError(
        code=int(raw.get("code") or 0),
        message=str(raw.get("message") or ""),
        sku_id=str(detail.get("sku_id") or raw.get("sku_id") or ""),
        warehouse_id=str(detail.get("warehouse_id") or raw.get("warehouse_id") or ""),
        warehouse_ids=warehouse_ids,
    )
