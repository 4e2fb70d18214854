"""In-memory privacy ports (tests only), with the same conditional semantics as the DynamoDB
adapters: put-if-absent receipts, leases, checkpoints, revision-conditioned order writes."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from tts_sync.orders.models import StoredOrder
from tts_sync.privacy.models import DeletionReceipt, ReceiptStatus


class MemoryReceiptStore:
    def __init__(self) -> None:
        self.receipts: dict[str, DeletionReceipt] = {}
        self.leases: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def open(self, receipt: DeletionReceipt) -> DeletionReceipt:
        with self._lock:
            return self.receipts.setdefault(receipt.request_id, receipt)

    def get(self, request_id: str) -> DeletionReceipt | None:
        return self.receipts.get(request_id)

    def take_lease(self, request_id: str, holder: str, now: int, seconds: int) -> bool:
        with self._lock:
            receipt = self.receipts.get(request_id)
            if receipt is None or receipt.status is not ReceiptStatus.IN_PROGRESS:
                return False
            lease = self.leases.get(request_id)
            if lease is not None and lease[1] >= now:
                return False
            self.leases[request_id] = (holder, now + seconds)
            return True

    def release_lease(self, request_id: str, holder: str) -> None:
        with self._lock:
            if self.leases.get(request_id, ("",))[0] == holder:
                del self.leases[request_id]

    def record_step(self, request_id: str, store: str, count: int) -> None:
        with self._lock:
            receipt = self.receipts[request_id]
            erased = {store: count, **receipt.erased}
            self.receipts[request_id] = receipt.model_copy(update={"erased": erased})

    def complete(self, request_id: str, completed_at: datetime) -> DeletionReceipt:
        with self._lock:
            receipt = self.receipts[request_id]
            done = receipt.model_copy(
                update={
                    "status": ReceiptStatus.COMPLETED,
                    "completed_at": receipt.completed_at or completed_at,
                }
            )
            self.receipts[request_id] = done
            self.leases.pop(request_id, None)
            return done

    def mark_published(self, request_id: str) -> None:
        with self._lock:
            receipt = self.receipts[request_id]
            self.receipts[request_id] = receipt.model_copy(update={"event_published": True})

    def in_progress(self) -> list[DeletionReceipt]:
        return [r for r in self.receipts.values() if r.status is ReceiptStatus.IN_PROGRESS]


class MemoryOrderPiiStore:
    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], StoredOrder] = {}
        self._lock = threading.Lock()

    def put(self, stored: StoredOrder) -> None:
        self.orders[(stored.record.shop_id, stored.record.order_id)] = stored

    def order_ids(self, shop_id: str, buyer_user_ids: Sequence[str] | None = None) -> list[str]:
        return [
            order_id
            for (shop, order_id), stored in self.orders.items()
            if shop == shop_id
            and (buyer_user_ids is None or stored.record.buyer.user_id in buyer_user_ids)
        ]

    def get(self, shop_id: str, order_id: str) -> StoredOrder | None:
        return self.orders.get((shop_id, order_id))

    def replace(self, stored: StoredOrder, expected_revision: int) -> bool:
        key = (stored.record.shop_id, stored.record.order_id)
        with self._lock:
            current = self.orders.get(key)
            if current is None or current.revision != expected_revision:
                return False
            self.orders[key] = stored
            return True

    def finished_before(self, update_time_before: int) -> Iterator[tuple[str, str]]:
        for (shop_id, order_id), stored in list(self.orders.items()):
            record = stored.record
            if (
                record.status in ("COMPLETED", "CANCELLED")
                and record.update_time < update_time_before
                and record.buyer.erased_at is None
            ):
                yield shop_id, order_id


class MemoryEventPayloadStore:
    def __init__(self) -> None:
        self.items: dict[str, tuple[str, str]] = {}  # key -> (shop_id, payload)

    def payloads(self, shop_id: str) -> Iterator[tuple[str, str]]:
        for key, (shop, payload) in list(self.items.items()):
            if shop == shop_id:
                yield key, payload

    def replace_payload(self, key: str, payload: str, erased_at: int) -> None:
        if key in self.items:
            self.items[key] = (self.items[key][0], payload)


class MemoryQuarantineStore:
    def __init__(self) -> None:
        self.bodies_by_key: dict[str, bytes] = {}

    def bodies(self) -> Iterator[tuple[str, bytes]]:
        yield from list(self.bodies_by_key.items())

    def delete(self, key: str) -> None:
        self.bodies_by_key.pop(key, None)


class MemoryShopConnections:
    def __init__(self, deauthorized: Mapping[str, int] | None = None) -> None:
        self.connected: set[str] = set()
        self.deauthorized: dict[str, int] = dict(deauthorized or {})

    def disconnect(self, shop_id: str, now: int) -> bool:
        if shop_id not in self.connected:
            return False
        self.connected.discard(shop_id)
        return True

    def deauthorized_since(self) -> Mapping[str, int]:
        return dict(self.deauthorized)
