"""In-memory world of the sandbox: shops, sellers' tokens, products, warehouses, orders,
packages, logistics. Plain dataclasses guarded by one lock held by the server per request."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# Re-exported: the order model moved to orders.py, and these names are public here too.
from tts_local.sandbox.orders import LineItem as LineItem
from tts_local.sandbox.orders import Order as Order
from tts_local.sandbox.orders import Package as Package

ORDER_STATUSES = (
    "UNPAID",
    "ON_HOLD",
    "AWAITING_SHIPMENT",
    "AWAITING_COLLECTION",
    "PARTIALLY_SHIPPING",
    "IN_TRANSIT",
    "DELIVERED",
    "COMPLETED",
    "CANCELLED",
)
ACCESS_TOKEN_TTL = 7 * 86_400
REFRESH_TOKEN_TTL = 365 * 86_400
AUTH_CODE_TTL = 600


@dataclass
class Shop:
    id: str
    name: str
    region: str
    cipher: str
    code: str
    qps: float | None = None  # None: not throttled

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "cipher": self.cipher,
            "code": self.code,
        }


@dataclass
class Grant:
    """One seller authorization: the tokens and the shops they open."""

    open_id: str
    seller_name: str
    shop_ids: list[str]
    access_token: str
    access_token_expire_in: int  # absolute unix seconds, as TikTok sends it
    refresh_token: str
    refresh_token_expire_in: int
    granted_scopes: list[str] = field(default_factory=lambda: ["seller.order.info"])

    def to_api(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "access_token_expire_in": self.access_token_expire_in,
            "refresh_token": self.refresh_token,
            "refresh_token_expire_in": self.refresh_token_expire_in,
            "open_id": self.open_id,
            "seller_name": self.seller_name,
            "granted_scopes": list(self.granted_scopes),
        }


@dataclass
class Sku:
    id: str
    seller_sku: str
    stock: dict[str, int]  # warehouse_id -> quantity; the keys are the warehouses it is in
    price_amount: str = "10.00"
    currency: str = "USD"
    # A SKU-level status (LIVE, SELLER_DEACTIVATED, ...) once set_sku_status gave it one;
    # until then the product's status stands for it, as in the 202309 replies.
    status: str = ""

    def to_api(self) -> dict[str, Any]:
        """A SKU as Product Search / Get Product Detail show it."""
        shown: dict[str, Any] = {
            "id": self.id,
            "seller_sku": self.seller_sku,
            "price": {"sale_price": self.price_amount, "currency": self.currency},
            "inventory": [{"warehouse_id": w, "quantity": q} for w, q in self.stock.items()],
        }
        if self.status:
            shown["status_info"] = {"status": self.status}
        return shown


@dataclass
class Product:
    id: str
    shop_id: str
    title: str
    skus: dict[str, Sku]
    # TikTok's product statuses: ACTIVATE (on sale), DRAFT, PENDING, FAILED, SELLER_DEACTIVATED,
    # PLATFORM_DEACTIVATED, FREEZE, DELETED. Only ACTIVATE products take stock here.
    status: str = "ACTIVATE"
    update_time: int = 0

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "update_time": self.update_time,
            "skus": [s.to_api() for s in self.skus.values()],
        }


@dataclass
class Warehouse:
    id: str
    shop_id: str
    name: str
    type: str = "SALES_WAREHOUSE"
    effect_status: str = "ENABLED"
    sub_type: str = "DOMESTIC_WAREHOUSE"
    is_default: bool = False
    delivery_option_ids: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "effect_status": self.effect_status,
            "sub_type": self.sub_type,
            "is_default": self.is_default,
        }


@dataclass
class DeliveryOption:
    id: str
    name: str
    type: str = "STANDARD"
    provider_ids: list[str] = field(default_factory=list)


@dataclass
class ShippingProvider:
    id: str
    name: str


@dataclass
class AuthCode:
    code: str
    shop_ids: list[str]
    expires_at: float
    used: bool = False


class SandboxState:
    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock if lock is not None else threading.RLock()
        self.shops: dict[str, Shop] = {}
        self.grants: dict[str, Grant] = {}  # by access token
        self.spent_refresh_tokens: set[str] = set()  # rotated out: refused from now on
        self.auth_codes: dict[str, AuthCode] = {}
        self.products: dict[str, Product] = {}
        self.warehouses: dict[str, Warehouse] = {}
        self.delivery_options: dict[str, DeliveryOption] = {}
        self.providers: dict[str, ShippingProvider] = {}
        self.orders: dict[str, Order] = {}
        self.packages: dict[str, Package] = {}
        self.webhooks: dict[tuple[str, str], str] = {}  # (shop_id, event_type) -> address
        self._counter = 0

    def next_id(self, prefix: str = "") -> str:
        with self.lock:
            self._counter += 1
            return f"{prefix}{7_000_000_000_000_000_000 + self._counter}"

    def shop_by_cipher(self, cipher: str) -> Shop | None:
        return next((s for s in self.shops.values() if s.cipher == cipher), None)

    def issue_grant(
        self,
        shop_ids: list[str],
        *,
        now: float | None = None,
        access_ttl: int = ACCESS_TOKEN_TTL,
        open_id: str | None = None,
        fixed_tokens: tuple[str, str] | None = None,
    ) -> Grant:
        now = time.time() if now is None else now
        access, refresh = fixed_tokens or (
            f"TTP_{secrets.token_urlsafe(24)}",
            f"TTR_{secrets.token_urlsafe(24)}",
        )
        grant = Grant(
            open_id=open_id or f"open-{secrets.token_hex(6)}",
            seller_name="Sandbox Seller",
            shop_ids=list(shop_ids),
            access_token=access,
            access_token_expire_in=int(now) + access_ttl,
            refresh_token=refresh,
            refresh_token_expire_in=int(now) + REFRESH_TOKEN_TTL,
        )
        with self.lock:
            self.grants[grant.access_token] = grant
        return grant

    def snapshot(self) -> dict[str, Any]:
        """JSON view for /_admin/state (tokens included: the sandbox holds only fake ones)."""
        with self.lock:
            return {
                "shops": [{**s.to_api(), "qps": s.qps} for s in self.shops.values()],
                "grants": [g.to_api() | {"shop_ids": g.shop_ids} for g in self.grants.values()],
                "products": [
                    {
                        "id": p.id,
                        "shop_id": p.shop_id,
                        "title": p.title,
                        "skus": [
                            {
                                "id": s.id,
                                "seller_sku": s.seller_sku,
                                "stock": dict(s.stock),
                                "price": {"amount": s.price_amount, "currency": s.currency},
                            }
                            for s in p.skus.values()
                        ],
                    }
                    for p in self.products.values()
                ],
                "warehouses": [
                    {**w.to_api(), "shop_id": w.shop_id} for w in self.warehouses.values()
                ],
                "orders": [{**o.to_api(), "shop_id": o.shop_id} for o in self.orders.values()],
                "packages": [package_to_api(p, self) for p in self.packages.values()],
                "webhooks": [
                    {"shop_id": shop_id, "event_type": event_type, "address": address}
                    for (shop_id, event_type), address in self.webhooks.items()
                ],
            }


def package_to_api(package: Package, state: SandboxState) -> dict[str, Any]:
    provider = state.providers.get(package.shipping_provider_id)
    return {
        "package_id": package.id,
        "package_status": package.status,
        "tracking_number": package.tracking_number,
        "shipping_provider_id": package.shipping_provider_id,
        "shipping_provider_name": provider.name if provider else "",
        "orders": [{"id": order_id} for order_id in package.order_ids],
    }
