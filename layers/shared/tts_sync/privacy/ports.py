"""Ports of privacy erasure: every store that can hold buyer PII, seen from the eraser.
Adapters: dynamo_store (DynamoDB tables, the Shops table through the shop store)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from tts_sync.orders.models import StoredOrder
from tts_sync.privacy.models import DeletionReceipt


class ReceiptStore(Protocol):
    def open(self, receipt: DeletionReceipt) -> DeletionReceipt:
        """Store `receipt` unless one with its request_id exists; the receipt as stored."""
        ...

    def get(self, request_id: str) -> DeletionReceipt | None: ...

    def take_lease(self, request_id: str, holder: str, now: int, seconds: int) -> bool:
        """Hold the request for `seconds` unless another unexpired holder has it."""
        ...

    def release_lease(self, request_id: str, holder: str) -> None:
        """Give the lease back after a failed run (no-op if someone else holds it now)."""
        ...

    def record_step(self, request_id: str, store: str, count: int) -> None:
        """Checkpoint: `store` is done for this request (a resumed run skips it)."""
        ...

    def complete(self, request_id: str, completed_at: datetime) -> DeletionReceipt:
        """Mark completed (once: a second call keeps the first time); the receipt as stored."""
        ...

    def mark_published(self, request_id: str) -> None: ...

    def in_progress(self) -> list[DeletionReceipt]: ...


class OrderPiiStore(Protocol):
    def order_ids(self, shop_id: str, buyer_user_ids: Sequence[str] | None = None) -> list[str]:
        """Order ids of the shop; with `buyer_user_ids`, only orders whose buyer.user_id is one
        of them."""
        ...

    def get(self, shop_id: str, order_id: str) -> StoredOrder | None: ...

    def replace(self, stored: StoredOrder, expected_revision: int) -> bool:
        """Put `stored` if the item is still at `expected_revision` (False: re-read)."""
        ...

    def finished_before(self, update_time_before: int) -> Iterator[tuple[str, str]]:
        """(shop_id, order_id) of COMPLETED/CANCELLED orders last updated before the time
        whose buyer data is not erased yet."""
        ...


class EventPayloadStore(Protocol):
    def payloads(self, shop_id: str) -> Iterator[tuple[str, str]]:
        """(key, payload) of every stored webhook of the shop."""
        ...

    def replace_payload(self, key: str, payload: str, erased_at: int) -> None: ...


class QuarantineStore(Protocol):
    def bodies(self) -> Iterator[tuple[str, bytes]]:
        """(key, raw body) of every quarantined delivery."""
        ...

    def delete(self, key: str) -> None: ...


class ShopConnections(Protocol):
    def disconnect(self, shop_id: str, now: int) -> bool:
        """Drop the shop's tokens and mark it deauthorized (nothing calls TikTok for it any
        more); False when unknown or already disconnected."""
        ...

    def deauthorized_since(self) -> Mapping[str, int]:
        """shop_id -> when it was deauthorized, for every deauthorized shop."""
        ...


class PseudonymKey(Protocol):
    def __call__(self) -> bytes:
        """The HMAC key buyer ids are pseudonymised with (Secrets Manager, never in code)."""
        ...
