"""In-memory ports of order sync for tests: the same contract as the DynamoDB adapters (a
revision-checked write of the order and its reservations as one step), thread-safe."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from tts_sync.orders.models import OrderRecord, OrderSource, StoredOrder
from tts_sync.orders.ports import MissingOrder, OrderWrite, ShipDue
from tts_sync.orders.reservations import Reservation, ReservationState
from tts_sync.tiktok import ShopAccess
from tts_sync.tiktok.models import Order

SHOP_ID = "7494049642642441621"


class MemoryOrderStore:
    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], StoredOrder] = {}
        self.ledger: dict[tuple[str, str, str], Reservation] = {}
        self.writes = 0
        self.conflicts = 0
        self.fail_writes_of: set[str] = set()  # order ids whose writes raise (a storage crash)
        self._lock = threading.Lock()

    def get_many(self, shop_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]:
        with self._lock:
            return {i: self.orders[(shop_id, i)] for i in order_ids if (shop_id, i) in self.orders}

    def write(self, write: OrderWrite) -> bool:
        from tts_sync.errors import StorageUnavailableError

        record = write.stored.record
        if record.order_id in self.fail_writes_of:
            raise StorageUnavailableError("InternalServerError")
        key = (record.shop_id, record.order_id)
        with self._lock:
            current = self.orders.get(key)
            if (current.revision if current else None) != write.expected_revision:
                self.conflicts += 1
                return False
            self.orders[key] = write.stored
            for reservation in write.reservations:
                self.ledger[(reservation.shop_id, reservation.sku_id, reservation.order_id)] = (
                    reservation
                )
            self.writes += 1
            return True

    def clear_pending(
        self,
        shop_id: str,
        order_id: str,
        event_ids: Sequence[str],
        *,
        retried_at_ms: int | None = None,
    ) -> None:
        with self._lock:
            stored = self.orders[(shop_id, order_id)]
            if not event_ids:
                if retried_at_ms is not None and stored.pending_since_ms is not None:
                    self.orders[(shop_id, order_id)] = stored.model_copy(
                        update={"pending_since_ms": retried_at_ms}
                    )
                return
            pending = {k: v for k, v in stored.pending_events.items() if k not in event_ids}
            since = retried_at_ms if retried_at_ms is not None else stored.pending_since_ms
            self.orders[(shop_id, order_id)] = stored.model_copy(
                update={
                    "pending_events": pending,
                    "revision": stored.revision + 1,
                    "pending_since_ms": since if pending else None,
                }
            )

    def with_pending_events(self, shop_id: str, older_than_ms: int) -> list[StoredOrder]:
        with self._lock:
            return [
                s
                for (shop, _), s in self.orders.items()
                if shop == shop_id
                and s.pending_events
                and (s.pending_since_ms or 0) < older_than_ms
            ]

    def due_to_ship(self, shop_id: str, before: int) -> list[ShipDue]:
        with self._lock:
            return [
                ShipDue(s.record.order_id, s.record.ship_by, s.record.status)  # type: ignore[arg-type]
                for (shop, _), s in self.orders.items()
                if shop == shop_id and s.record.ship_by is not None and s.record.ship_by < before
            ]

    def reservations(self, shop_id: str, sku_id: str) -> list[Reservation]:
        with self._lock:
            return [r for (s, k, _), r in self.ledger.items() if (s, k) == (shop_id, sku_id)]

    def held_units(self, shop_id: str) -> dict[str, int]:
        units: dict[str, int] = {}
        for (shop, sku, _), r in self.ledger.items():
            if shop == shop_id and r.state is ReservationState.HELD and r.units:
                units[sku] = units.get(sku, 0) + r.units
        return units


class MemoryMissingOrderLedger:
    def __init__(self) -> None:
        self.noted: dict[tuple[str, str], MissingOrder] = {}
        self._lock = threading.Lock()

    def note_missing(self, shop_id: str, order_id: str, now: int) -> MissingOrder:
        with self._lock:
            known = self.noted.get((shop_id, order_id))
            noted = MissingOrder(
                attempts=(known.attempts if known else 0) + 1,
                first_missing_at=known.first_missing_at if known else now,
            )
            self.noted[(shop_id, order_id)] = noted
            return noted

    def forget(self, shop_id: str, order_ids: Sequence[str]) -> None:
        with self._lock:
            for order_id in order_ids:
                self.noted.pop((shop_id, order_id), None)


class StaticShopAccess:
    def __init__(self, *shop_ids: str) -> None:
        self.shop_ids = set(shop_ids) or {SHOP_ID}

    def access(self, shop_id: str) -> ShopAccess | None:
        if shop_id not in self.shop_ids:
            return None
        return ShopAccess(shop_id=shop_id, shop_cipher="cipher", access_token="TTP_test")


def tiktok_order(order_id: str, status: str, update_time: int, **fields: Any) -> Order:
    """An Order as Get Order Detail returns it (defaults: one line of SKU-1, paid at 1000)."""
    document: dict[str, Any] = {
        "id": order_id,
        "status": status,
        "create_time": 1_000,
        "update_time": update_time,
        "paid_time": 1_000 if status != "UNPAID" else 0,
        "shipping_type": "SELLER",
        "fulfillment_type": "FULFILLMENT_BY_SELLER",
        "payment": {"currency": "USD", "total_amount": "14.00", "sub_total": "14.00"},
        "line_items": [{"id": f"{order_id}1", "sku_id": "SKU-1", "seller_sku": "MUG-RED"}],
        "recipient_address": (
            {} if status in ("UNPAID", "ON_HOLD") else {"name": "Alex", "full_address": "1 Main"}
        ),
    }
    document.update(fields)
    return Order.model_validate(document)


def record(order: Order, *, fetched_at_ms: int = 1, shop_id: str = SHOP_ID) -> OrderRecord:
    return OrderRecord.from_tiktok(
        shop_id, order, fetched_at_ms=fetched_at_ms, source=OrderSource.WEBHOOK
    )
