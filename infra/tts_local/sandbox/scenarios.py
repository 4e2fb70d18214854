"""Bulk order traffic for order-sync tests: many orders through TikTok's lifecycle, with the
webhooks TikTok would send, collected and not delivered.

    traffic = order_traffic(sandbox, demo.shop.id, orders=2_000, seed=7)
    sandbox.deliver_webhooks(url, traffic.notifications, ordering="shuffled", duplicates=1)
    ... then compare what the product stored with traffic.final_orders ...

Every order is paid and lands ON_HOLD, then most are released to AWAITING_SHIPMENT; a share is
cancelled (in the hold window or while awaiting shipment), some get an address change, a few
carry a bundle (combined listing) or a free gift, a few ship as two packages. The same seed on
a sandbox in the same state gives the same orders, times and notification ids. No HTTP:
thousands of orders take well under a second.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tts_local.sandbox.orders import HOUR, Order
from tts_local.sandbox.seed import BASE_TIME
from tts_local.sandbox.webhooks import Notification

if TYPE_CHECKING:
    from tts_local.sandbox.sandbox import Sandbox

ORDER_INTERVAL = 30  # seconds between two buyers' checkouts
HOLD_WINDOW = HOUR  # ON_HOLD lasts an hour in the US and UK


@dataclass(frozen=True)
class Traffic:
    notifications: list[Notification]  # in the order TikTok would emit them (by time)
    final_orders: dict[str, Order]


def order_traffic(
    sandbox: Sandbox,
    shop_id: str,
    *,
    orders: int,
    seed: int,
    cancel_share: float = 0.2,
    address_change_share: float = 0.1,
    bundle_share: float = 0.05,
    gift_share: float = 0.05,
    split_share: float = 0.05,
    tax_rate: str = "0.0825",
    sku_pool: Sequence[Mapping[str, Any]] | None = None,
    start: int = BASE_TIME,
) -> Traffic:
    """`orders` orders from `start` on. sku_pool: item specs ({"sku_id", "product_id",
    "seller_sku", "price"}); default: every SKU of the shop's products in the sandbox.
    split_share: orders of several lines shipped as two packages (a type-4 SPLIT webhook)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible traffic, not security  # nosec B311
    pool = list(sku_pool) if sku_pool is not None else _shop_skus(sandbox, shop_id)
    if not pool:
        raise ValueError(f"shop {shop_id} has no products: seed some or pass sku_pool")
    already_logged = len(sandbox.notifications_for())
    final: dict[str, Order] = {}
    for index in range(orders):
        placed_at = start + index * ORDER_INTERVAL
        items = [dict(rng.choice(pool)) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        items[0]["quantity"] = rng.choice((1, 1, 1, 2))
        if rng.random() < bundle_share and len(pool) > 1:
            items.append(_bundle(rng, pool))
        if rng.random() < gift_share:
            items.append(dict(rng.choice(pool)) | {"is_gift": True})
        if tax_rate:
            items = [item | {"tax_rate": tax_rate} for item in items]
        lines = sum(int(item.get("quantity", 1)) for item in items)
        split = [[0], list(range(1, lines))] if lines > 1 and rng.random() < split_share else None
        order = sandbox.place_order(shop_id, items, package_split=split, notify=False, at=placed_at)
        if rng.random() < address_change_share:
            sandbox.change_address(order.id, notify=False, at=placed_at + rng.randint(60, 1800))
        cancelled = rng.random() < cancel_share
        if cancelled and rng.random() < 0.5:  # half of the cancellations come in the hold
            cancel_at = placed_at + rng.randint(60, HOLD_WINDOW - 60)
            sandbox.advance_order(order.id, "CANCELLED", notify=False, at=cancel_at)
            final[order.id] = order
            continue
        released_at = placed_at + HOLD_WINDOW
        sandbox.advance_order(order.id, "AWAITING_SHIPMENT", notify=False, at=released_at)
        if cancelled:
            sandbox.advance_order(
                order.id,
                "CANCELLED",
                notify=False,
                at=released_at + rng.randint(60, 6 * HOUR),
                cancellation_initiator=rng.choice(("BUYER", "SELLER")),
            )
        final[order.id] = order
    produced = sandbox.notifications_for()[already_logged:]
    # Orders overlap in time; a stable sort keeps each order's own moves in sequence.
    produced.sort(key=lambda n: n.timestamp)
    return Traffic(notifications=produced, final_orders=final)


def _shop_skus(sandbox: Sandbox, shop_id: str) -> list[dict[str, Any]]:
    with sandbox.state.lock:
        return [
            {
                "sku_id": sku.id,
                "product_id": product.id,
                "seller_sku": sku.seller_sku,
                "price": sku.price_amount,
                "currency": sku.currency,
            }
            for product in sandbox.state.products.values()
            if product.shop_id == shop_id
            for sku in product.skus.values()
        ]


def _bundle(rng: random.Random, pool: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A combined-listing line: one virtual SKU whose stock lives on two pool SKUs."""
    first, second = rng.sample(list(pool), 2)
    components = [
        {
            "sku_id": part["sku_id"],
            "product_id": part.get("product_id", ""),
            "seller_sku": part.get("seller_sku", ""),
            "sku_count": count,
        }
        for part, count in ((first, 1), (second, rng.choice((1, 2))))
    ]
    return {
        "sku_id": f"9{first['sku_id']}"[-19:],
        "product_id": f"9{first.get('product_id', '')}"[-19:],
        "seller_sku": "",  # combined listings often have none
        "product_name": "Bundle",
        "price": "30.00",
        "combined_listing_skus": components,
    }
