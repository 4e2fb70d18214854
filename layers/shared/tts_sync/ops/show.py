"""What `tts-sync ops show` prints: the state a sync holds, without PII or secrets.

- an order: status, times, revision, packages, line items per SKU, reservations, events still
  pending (counted); never the `buyer` attribute, never prices per buyer;
- a shop: status, token expiry times and what is left of them, webhook subscriptions; never
  the tokens themselves.
Pure functions over the stored models.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tts_sync.orders.models import StoredOrder
from tts_sync.orders.reservations import Reservation, units_by_sku
from tts_sync.shops.models import Shop


def iso(seconds: float | None) -> str | None:
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def order_view(stored: StoredOrder, reservations: Sequence[Reservation]) -> dict[str, Any]:
    record = stored.record
    lines: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"units": 0, "seller_sku": "", "statuses": []}
    )
    for line in record.line_items:
        view = lines[line.sku_id]
        view["units"] += 1
        view["seller_sku"] = view["seller_sku"] or line.seller_sku
        view["product_id"] = line.product_id
        if line.display_status and line.display_status not in view["statuses"]:
            view["statuses"].append(line.display_status)
        if line.package_id:
            view.setdefault("packages", [])
            if line.package_id not in view["packages"]:
                view["packages"].append(line.package_id)
    ordered = units_by_sku(record)
    return {
        "shop_id": record.shop_id,
        "order_id": record.order_id,
        "status": record.status,
        "update_time": record.update_time,
        "update_time_iso": iso(record.update_time),
        "create_time": record.create_time,
        "paid_time": record.paid_time,
        "revision": stored.revision,
        "source": record.source.value,
        "read_from_tiktok_at": iso(record.fetched_at_ms / 1000),
        "shipping_type": record.shipping_type,
        "warehouse_id": record.warehouse_id,
        "packages": list(record.packages),
        "line_items_per_sku": dict(lines),
        "units_per_sku": dict(ordered),
        "unmapped_skus": list(record.unmapped_skus),
        "cancel_reason": record.cancellation.cancel_reason,
        "ship_by": iso(record.ship_by),
        "reservations": [
            {
                "sku_id": r.sku_id,
                "state": r.state.value,
                "units": r.units,
                "ordered_units": r.ordered_units,
                "order_status": r.order_status,
            }
            for r in sorted(reservations, key=lambda r: r.sku_id)
        ],
        "pending_events": len(stored.pending_events),
        "buyer_erased": record.buyer.erased_at is not None,
    }


def shop_view(shop: Shop, now: float) -> dict[str, Any]:
    tokens = shop.tokens

    def left(expires_at: int | None) -> int | None:
        return None if not expires_at else int(expires_at - now)

    return {
        "shop_id": shop.shop_id,
        "name": shop.name,
        "region": shop.region,
        "status": shop.status.value,
        "status_reason": shop.status_reason,
        "usable": shop.usable,
        "authorized_at": iso(shop.authorized_at),
        "authorization_expires_at": iso(shop.authorization_expires_at),
        "tokens": (
            None
            if tokens is None
            else {
                "access_token_expires_at": iso(tokens.access_token_expires_at),
                "access_token_seconds_left": left(tokens.access_token_expires_at),
                "refresh_token_expires_at": iso(tokens.refresh_token_expires_at),
                "refresh_token_seconds_left": left(tokens.refresh_token_expires_at),
            }
        ),
        "webhook_address": shop.webhook_address,
        "subscriptions": {k: v.value for k, v in sorted(shop.subscriptions.items())},
        "updated_at": iso(shop.updated_at),
    }
