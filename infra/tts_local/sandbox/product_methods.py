"""The Sandbox's product changes as a seller makes them in Seller Center, each with the webhook
TikTok sends for it (tiktok-shop-api.md sections 1 and 4): recorded and (notify=True)
delivered to the shop's subscribed address for that type.

- create_product: PRODUCT_CREATION (16)
- change_product (title, SKUs added or removed): PRODUCT_INFORMATION_CHANGE (15), with
  `changed_fields`
- set_product_status (ACTIVATE, SELLER_DEACTIVATED, DELETED, ...): PRODUCT_STATUS_CHANGE (5)
  with PRODUCT_STATUS_CHANGED
- set_sku_status (LIVE, SELLER_DEACTIVATED, ...): SKU_STATUS_CHANGE (50)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from tts_local.sandbox.state import Product, SandboxState, Sku
from tts_local.sandbox.webhooks import EVENT_TYPE_NUMBERS, Notification


class _SandboxCore(Protocol):
    state: SandboxState
    _notifications: list[Notification]
    _log_lock: threading.Lock

    def now(self) -> float: ...

    def seed_product(
        self,
        shop_id: str,
        product_id: str | None = None,
        *,
        title: str = ...,
        skus: Sequence[dict[str, Any]] = (),
    ) -> Product: ...

    def _publish(self, notifications: Sequence[Notification], notify: bool) -> None: ...


class ProductChangeMethods:
    """Mixed into Sandbox: `self` is the Sandbox."""

    def create_product(
        self: _SandboxCore,
        shop_id: str,
        product_id: str | None = None,
        *,
        title: str = "Sandbox product",
        skus: Sequence[dict[str, Any]] = (),
        notify: bool = True,
    ) -> Product:
        product = self.seed_product(shop_id, product_id, title=title, skus=skus)
        with self.state.lock:
            product.update_time = int(self.now())
            sent = _notification(self.state, product, "PRODUCT_CREATION", {})
        self._publish([sent], notify)
        return product

    def change_product(
        self: _SandboxCore,
        product_id: str,
        *,
        title: str | None = None,
        add_skus: Sequence[dict[str, Any]] = (),
        remove_sku_ids: Sequence[str] = (),
        notify: bool = True,
    ) -> Product:
        """add_skus: [{"id", "seller_sku", "stock": {warehouse_id: qty}}]."""
        with self.state.lock:
            product = self.state.products[product_id]
            changed = []
            if title is not None:
                product.title = title
                changed.append("title")
            for spec in add_skus:
                sku = Sku(
                    id=str(spec.get("id") or self.state.next_id()),
                    seller_sku=str(spec.get("seller_sku", "")),
                    stock={str(w): int(q) for w, q in dict(spec.get("stock", {})).items()},
                )
                product.skus[sku.id] = sku
            for sku_id in remove_sku_ids:
                del product.skus[sku_id]
            if add_skus or remove_sku_ids:
                changed.append("skus")
            _touch(self, product)
            sent = _notification(
                self.state, product, "PRODUCT_INFORMATION_CHANGE", {"changed_fields": changed}
            )
        self._publish([sent], notify)
        return product

    def set_product_status(
        self: _SandboxCore, product_id: str, status: str, *, notify: bool = True
    ) -> Product:
        with self.state.lock:
            product = self.state.products[product_id]
            product.status = status
            _touch(self, product)
            sent = _notification(
                self.state,
                product,
                "PRODUCT_STATUS_CHANGE",
                {"status": "PRODUCT_STATUS_CHANGED", "suspended_reason": ""},
            )
        self._publish([sent], notify)
        return product

    def set_sku_status(
        self: _SandboxCore, product_id: str, sku_id: str, status: str, *, notify: bool = True
    ) -> Product:
        with self.state.lock:
            product = self.state.products[product_id]
            product.skus[sku_id].status = status
            _touch(self, product)
            sent = _notification(
                self.state, product, "SKU_STATUS_CHANGE", {"sku_id": sku_id, "status": status}
            )
        self._publish([sent], notify)
        return product


def _touch(sandbox: _SandboxCore, product: Product) -> None:
    product.update_time = max(product.update_time + 1, int(sandbox.now()))


def _notification(
    state: SandboxState, product: Product, event_type: str, data: dict[str, Any]
) -> Notification:
    return Notification(
        type=EVENT_TYPE_NUMBERS[event_type],
        shop_id=product.shop_id,
        data={"product_id": product.id, **data, "update_time": product.update_time},
        tts_notification_id=state.next_id(),
        timestamp=product.update_time,
    )
