"""Ports of order sync: where records and reservations live, where orders come from, and the
shop access they need. Adapters: dynamo_store (DynamoDB), the TikTok client, the shop store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from tts_sync.orders.models import StoredOrder
from tts_sync.orders.reservations import Reservation
from tts_sync.tiktok import Deadline, ShopAccess
from tts_sync.tiktok.models import MalformedOrder, Order, OrderSearchFilter


@dataclass(frozen=True)
class OrderWrite:
    """Replace the stored order (if still at `expected_revision`; None: must not exist yet)
    and its changed reservations, in one atomic write."""

    stored: StoredOrder  # the new item: record, revision = expected + 1, pending events
    expected_revision: int | None
    reservations: Sequence[Reservation]


@dataclass(frozen=True)
class ShipDue:
    """A seller-shipped order still to ship, and when TikTok wants it shipped by."""

    order_id: str
    ship_by: int
    status: str


class ReservationLedger(Protocol):
    def reservations(self, shop_id: str, sku_id: str) -> list[Reservation]:
        """Every reservation of the SKU (held, consumed, released), in one query."""
        ...


class OrderStore(ReservationLedger, Protocol):
    """The order records; the same store keeps the reservations derived from them."""

    def get_many(self, shop_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]:
        """Consistent reads of the stored orders among `order_ids` (absent ones left out)."""
        ...

    def write(self, write: OrderWrite) -> bool:
        """Apply `write` atomically; False when the revision moved (re-read and decide again).
        Raises StorageUnavailableError when it could not be confirmed."""
        ...

    def clear_pending(
        self,
        shop_id: str,
        order_id: str,
        event_ids: Sequence[str],
        *,
        retried_at_ms: int | None = None,
    ) -> None:
        """Forget published events (and bump the revision, so a writer holding the old item
        cannot put them back). `retried_at_ms`: the others were just tried and refused; their
        wait (pending_since) starts again then, so readers do not all take them at once for
        a dead writer's."""
        ...

    def with_pending_events(self, shop_id: str, older_than_ms: int) -> list[StoredOrder]:
        """Orders whose events have waited since before `older_than_ms` (a crash between the
        write and the publish)."""
        ...

    def due_to_ship(self, shop_id: str, before: int) -> list[ShipDue]:
        """Seller-shipped orders not yet shipped whose ship-by time is before `before`."""
        ...


class OrderApi(Protocol):
    def get_order_detail(
        self,
        shop: ShopAccess,
        order_ids: Sequence[str],
        *,
        deadline: Deadline | None = None,
        malformed: list[MalformedOrder] | None = None,
    ) -> list[Order]:
        """The orders that parse; the others appended to `malformed`."""
        ...

    def search_orders(
        self,
        shop: ShopAccess,
        search: OrderSearchFilter,
        *,
        page_size: int = ...,
        sort_order: str = ...,
        deadline: Deadline | None = None,
        malformed: list[MalformedOrder] | None = None,
    ) -> Iterator[Order]: ...


class ShopAccessSource(Protocol):
    def access(self, shop_id: str) -> ShopAccess | None:
        """The shop's API access, or None when it is unknown or not connected (deauthorized,
        no tokens): nothing to hydrate, and retrying will not change that."""
        ...


class WatermarkStore(Protocol):
    def get(self, shop_id: str) -> int | None: ...

    def advance(self, shop_id: str, update_time: int) -> None:
        """Move the shop's watermark forward to `update_time` (never backwards) and end any
        hold (failed orders kept it back)."""
        ...

    def hold(self, shop_id: str, order_ids: Sequence[str], now: int) -> int:
        """One more run in a row in which these failed orders kept the watermark back; the
        number of such runs."""
        ...

    def advance_past(
        self, shop_id: str, update_time: int, skipped_order_ids: Sequence[str], now: int
    ) -> None:
        """Advance although these orders still fail (given up on), recording them for ops."""
        ...


@dataclass(frozen=True)
class MissingOrder:
    """An order webhooks name but Get Order Detail keeps leaving out."""

    attempts: int
    first_missing_at: int


class MissingOrderLedger(Protocol):
    def note_missing(self, shop_id: str, order_id: str, now: int) -> MissingOrder:
        """Count one more reply that left the order out (kept for ops, with its first time)."""
        ...

    def forget(self, shop_id: str, order_ids: Sequence[str]) -> None:
        """TikTok returned these orders: drop their miss counts (a later lag starts afresh)."""
        ...
