"""The Python face of the sandbox, for tests and the local stack.

with Sandbox("app-key", "app-secret", port=0) as sandbox:
    demo = sandbox.seed_demo_data()
    ... point the client at sandbox.url ...
    sandbox.inject_fault("/order/202309/orders", "5xx", count=2)
    assert sandbox.requests("/order/")[0]["query"]["shop_cipher"] == demo.shop.cipher
    order = sandbox.place_order(demo.shop.id, [{"sku_id": ...}], notify=False)  # ON_HOLD
    sandbox.advance_order(order.id, "AWAITING_SHIPMENT", notify=False)
    sandbox.notifications_for(order.id)  # what TikTok would have sent, to deliver at will
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any

from tts_local.sandbox.endpoints import SandboxOptions
from tts_local.sandbox.faults import Fault, FaultBook, FaultKind, ShopThrottle
from tts_local.sandbox.order_lifecycle import line_items_from_specs, status_notification
from tts_local.sandbox.order_methods import OrderLifecycleMethods
from tts_local.sandbox.orders import recipient_address
from tts_local.sandbox.product_methods import ProductChangeMethods
from tts_local.sandbox.server import SandboxServer, serve_in_thread
from tts_local.sandbox.state import (
    ACCESS_TOKEN_TTL,
    ORDER_STATUSES,
    AuthCode,
    DeliveryOption,
    Grant,
    LineItem,
    Order,
    Package,
    Product,
    SandboxState,
    ShippingProvider,
    Shop,
    Sku,
    Warehouse,
)
from tts_local.sandbox.webhooks import (
    Delivery,
    Notification,
    Ordering,
    WebhookSender,
)

REQUEST_LOG_LIMIT = 10_000
UNSHIPPED = ("UNPAID", "ON_HOLD", "AWAITING_SHIPMENT", "CANCELLED")


class Sandbox(OrderLifecycleMethods, ProductChangeMethods):
    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        authorize_path: str = "/oauth/authorize",
        service_id: str = "",
        redirect_uri: str = "",
        accept_zero_stock: bool = True,
        rotate_refresh_tokens: bool = False,
        numeric_ids: bool = False,
    ) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.host = host
        self.port = port
        # The real consent page is https://services.tiktokshop.com/open/authorize?service_id=..
        self.authorize_path = authorize_path
        self.service_id = service_id
        self.redirect_uri = redirect_uri
        self.consent_shop_ids: list[str] = []  # empty: a consent grants every shop
        self.options = SandboxOptions(accept_zero_stock=accept_zero_stock, numeric_ids=numeric_ids)
        # TikTok may rotate refresh tokens: each token/refresh answer then carries a new refresh
        # token and the one sent is refused from then on (even if the answer was lost).
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.state = SandboxState()
        self.faults = FaultBook()
        self.throttle = ShopThrottle()
        self.webhooks = WebhookSender(app_key, app_secret)
        self.clock_offset = 0.0  # shifts TikTok's clock (timestamp window, token expiry)
        self._log: list[dict[str, Any]] = []
        self._notifications: list[Notification] = []
        self._log_lock = threading.Lock()
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Sandbox:
        self._server = SandboxServer(self, self.host, self.port)
        self.port = int(self._server.server_address[1])
        self._thread = serve_in_thread(self._server)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is not None:
            server.shutdown()  # returns once serve_forever's loop has ended ...
        if thread is not None:
            thread.join()  # ... and this once its thread has, so nothing outlives stop()
        if server is not None:
            server.server_close()

    @property
    def serving(self) -> bool:
        """False once the server's thread has died (a stopped sandbox is not serving either)."""
        return self._thread is not None and self._thread.is_alive()

    def restart_in_place(self) -> None:
        """Serves again on the same port with the same state (shops, tokens, orders): the
        functions keep their TTS_API_BASE_URL and nothing a test or the demo seeded is lost."""
        old, self._server = self._server, None
        if old is not None:
            with contextlib.suppress(OSError):
                old.server_close()
        self._server = SandboxServer(self, self.host, self.port)
        self._thread = serve_in_thread(self._server)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def now(self) -> float:
        return time.time() + self.clock_offset

    # ------------------------------------------------------------------ seeding

    def seed_shop(
        self,
        shop_id: str | None = None,
        *,
        name: str = "Sandbox Shop",
        region: str = "US",
        cipher: str | None = None,
        qps: float | None = None,
    ) -> Shop:
        shop_id = shop_id or self.state.next_id()
        shop = Shop(
            id=shop_id,
            name=name,
            region=region,
            cipher=cipher or f"ROW_{shop_id[-8:]}cipher",
            code=f"{region}LC{shop_id[-6:]}",
            qps=qps,
        )
        with self.state.lock:
            self.state.shops[shop.id] = shop
        return shop

    def issue_token(
        self,
        shop_ids: Sequence[str],
        *,
        access_ttl: int = ACCESS_TOKEN_TTL,
        fixed_tokens: tuple[str, str] | None = None,
    ) -> Grant:
        """A seller authorization for these shops (as if consent + token/get had happened);
        `fixed_tokens` = (access, refresh) for reproducible demos."""
        return self.state.issue_grant(
            list(shop_ids), now=self.now(), access_ttl=access_ttl, fixed_tokens=fixed_tokens
        )

    def expire_access_token(self, access_token: str) -> None:
        with self.state.lock:
            self.state.grants[access_token].access_token_expire_in = int(self.now()) - 1

    def create_auth_code(self, shop_ids: Sequence[str]) -> str:
        code = AuthCode(
            code=f"AC_{self.state.next_id()}", shop_ids=list(shop_ids), expires_at=self.now() + 600
        )
        with self.state.lock:
            self.state.auth_codes[code.code] = code
        return code.code

    def seed_provider(self, provider_id: str, name: str) -> ShippingProvider:
        provider = ShippingProvider(provider_id, name)
        with self.state.lock:
            self.state.providers[provider_id] = provider
        return provider

    def seed_delivery_option(
        self, option_id: str, name: str, provider_ids: Sequence[str], *, type: str = "STANDARD"
    ) -> DeliveryOption:
        option = DeliveryOption(option_id, name, type, list(provider_ids))
        with self.state.lock:
            self.state.delivery_options[option_id] = option
        return option

    def seed_warehouse(
        self,
        shop_id: str,
        warehouse_id: str | None = None,
        *,
        name: str = "Main warehouse",
        type: str = "SALES_WAREHOUSE",
        effect_status: str = "ENABLED",
        is_default: bool = False,
        delivery_option_ids: Sequence[str] = (),
    ) -> Warehouse:
        warehouse = Warehouse(
            id=warehouse_id or self.state.next_id(),
            shop_id=shop_id,
            name=name,
            type=type,
            effect_status=effect_status,
            is_default=is_default,
            delivery_option_ids=list(delivery_option_ids),
        )
        with self.state.lock:
            self.state.warehouses[warehouse.id] = warehouse
        return warehouse

    def seed_product(
        self,
        shop_id: str,
        product_id: str | None = None,
        *,
        title: str = "Sandbox product",
        skus: Sequence[dict[str, Any]] = (),
    ) -> Product:
        """skus: [{"id", "seller_sku", "stock": {warehouse_id: qty}, "price", "currency"}]."""
        product = Product(
            id=product_id or self.state.next_id(), shop_id=shop_id, title=title, skus={}
        )
        for spec in skus:
            sku = Sku(
                id=str(spec.get("id") or self.state.next_id()),
                seller_sku=str(spec.get("seller_sku", "")),
                stock={str(w): int(q) for w, q in dict(spec.get("stock", {})).items()},
                price_amount=str(spec.get("price", "10.00")),
                currency=str(spec.get("currency", "USD")),
            )
            product.skus[sku.id] = sku
        with self.state.lock:
            self.state.products[product.id] = product
        return product

    def seed_order(
        self,
        shop_id: str,
        order_id: str | None = None,
        *,
        status: str = "AWAITING_SHIPMENT",
        items: Sequence[dict[str, Any]] = (),
        package_split: Sequence[Sequence[int]] | None = None,
        create_time: int | None = None,
        update_time: int | None = None,
        recipient: dict[str, Any] | None = None,
        buyer_email: str = "buyer@example.com",
        warehouse_id: str = "",
    ) -> Order:
        """An order placed straight in `status`, without webhooks. items: [{"sku_id",
        "product_id", "seller_sku", "price", "currency", "quantity", "is_gift",
        "combined_listing_skus", ...}] (see line_items_from_specs: one line per unit);
        package_split groups line indexes into packages (default: one package for all)."""
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown order status {status!r}")
        now = int(self.now())
        created = create_time or now
        with self.state.lock:
            number = len(self.state.orders)
            order = Order(
                id=order_id or self.state.next_id("57"),
                shop_id=shop_id,
                status=status,
                create_time=created,
                update_time=update_time or created,
                line_items=line_items_from_specs(self.state, items),
                recipient=recipient or recipient_address(number),
                buyer_email=buyer_email,
                warehouse_id=warehouse_id,
                paid_time=0 if status == "UNPAID" else created,
                package_split=[list(g) for g in package_split] if package_split else None,
            )
            if status == "CANCELLED":
                order.cancellation_initiator, order.cancel_reason = "BUYER", "No longer needed"
                order.request_cancel_time = order.update_time
            self.state.orders[order.id] = order
            if status not in ("UNPAID", "ON_HOLD", "CANCELLED"):
                groups = order.package_split or [list(range(len(order.line_items)))]
                for group in groups:
                    self._add_package(order, [order.line_items[i] for i in group])
        return order

    def _add_package(self, order: Order, items: list[LineItem]) -> Package:
        shipped = order.status not in UNSHIPPED
        package = Package(
            id=self.state.next_id(),
            shop_id=order.shop_id,
            order_ids=[order.id],
            status="FULFILLING" if shipped else "PROCESSING",
            tracking_number=f"TRK{order.id[-8:]}" if shipped else "",
            shipped_at=order.update_time if shipped else None,
        )
        self.state.packages[package.id] = package
        order.attach_package(package, items)
        return package

    def set_order_status(self, order_id: str, status: str, *, notify: bool = True) -> Order:
        """Put an order in any status (no transition check, unlike advance_order) and, if the
        shop registered an ORDER_STATUS_CHANGE webhook, deliver it."""
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown order status {status!r}")
        with self.state.lock:
            order = self.state.orders[order_id]
            order.status = status
            order.update_time = max(order.update_time + 1, int(self.now()))
            sent = [status_notification(self.state, order)]
        self._publish(sent, notify)
        return order

    def set_shop_qps(self, shop_id: str, qps: float | None) -> None:
        with self.state.lock:
            self.state.shops[shop_id].qps = qps
        self.throttle.reset(shop_id)

    def reset(self) -> None:
        """Forget all state, faults, throttle buckets and the request log."""
        # Under the lock, and the fresh state keeps that lock: a request that holds it finishes
        # on the old state, and one waiting for it reads the new state once it gets it.
        with self.state.lock:
            self.state = SandboxState(lock=self.state.lock)
        self.faults.clear()
        self.throttle.reset()
        self.clear_requests()
        self.clear_notifications()

    def seed_demo_data(self) -> Any:
        from tts_local.sandbox.seed import seed_demo_data

        return seed_demo_data(self)

    # ------------------------------------------------------------------ faults and log

    def inject_fault(self, path: str, kind: FaultKind, count: int = 1, **options: Any) -> Fault:
        """Next `count` calls to `path` (exact, or prefix ending in '*') fail as `kind`:
        5xx (status=, code=), timeout (sleep_seconds=), 429 (retry_after=),
        sku_errors (sku_ids=), token_expired, omit_orders (order_ids=: Get Order Detail
        answers code 0 without them), range_spill (spill_seconds=: order search returns
        orders that far outside the asked time window), garbled (a 200 whose body is cut
        short), slow (sleep_seconds=, then answered as usual), malformed_orders (order_ids=:
        detail and search return those orders with fields of the wrong type, buyer data left
        in), reject_orders (order_ids=: a Get Order Detail call naming one of them fails
        36009004, HTTP 400).

        after_apply=True (5xx, timeout, garbled, slow): the request is applied first (tokens
        issued, package shipped) and only then is its answer lost: a 5xx, a garbled body, the
        real answer after sleep_seconds (timeout: longer than the client waits; slow: late)."""
        fault = Fault(path=path, kind=kind, remaining=count, **options)
        self.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def record(self, **entry: Any) -> None:
        body: bytes = entry.pop("body")
        entry["body"] = body.decode("utf-8", errors="replace")
        entry["at"] = time.time()
        with self._log_lock:
            entry["seq"] = len(self._log)
            self._log.append(entry)
            if len(self._log) > REQUEST_LOG_LIMIT:
                del self._log[: len(self._log) - REQUEST_LOG_LIMIT]

    def requests(self, path_prefix: str = "") -> list[dict[str, Any]]:
        """Logged requests (method, path, query, headers, body, status, code), oldest first."""
        with self._log_lock:
            return [dict(e) for e in self._log if e["path"].startswith(path_prefix)]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot() | {
            "faults": self.faults.pending(),
            "throttle": {"admitted": self.throttle.admitted, "throttled": self.throttle.throttled},
        }

    # ------------------------------------------------------------------ webhooks

    def order_status_notification(self, order: Order) -> Notification:
        with self.state.lock:
            return status_notification(self.state, order)

    def deliver_webhooks(
        self,
        url: str,
        notifications: Sequence[Notification],
        *,
        duplicates: int = 0,
        ordering: Ordering = "as_given",
        seed: int = 0,
        bad_signature: bool = False,
    ) -> list[Delivery]:
        return self.webhooks.deliver(
            url,
            notifications,
            duplicates=duplicates,
            ordering=ordering,
            seed=seed,
            bad_signature=bad_signature,
        )
