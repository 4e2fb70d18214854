"""Ports of the quantity export. Adapters: stock/dynamo_store.py (StockTable), catalog/
dynamo_store.py (catalog map and warehouse mapping in CatalogTable), the order store
(ReservationsTable), the TikTok client (inventory update)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from tts_sync.catalog.models import CatalogSku, WarehouseMapping
from tts_sync.orders.reservations import Reservation
from tts_sync.stock.models import BufferRules, Refusal, SkuWarehouseStock
from tts_sync.tiktok import Deadline, ShopAccess
from tts_sync.tiktok.models import ItemOutcome, SkuStock

StockKey = tuple[str, str]  # (sku_id, warehouse_id)


class CatalogMap(Protocol):
    def skus_by_seller_sku(self, shop_id: str, seller_skus: Iterable[str]) -> dict[str, CatalogSku]:
        """The catalog entries of these seller SKUs (absent ones left out)."""
        ...

    def skus_by_id(self, shop_id: str, sku_ids: Iterable[str]) -> dict[str, CatalogSku]: ...

    def block_sku(self, shop_id: str, sku_id: str, reason: str) -> None:
        """TikTok refused the SKU for good: do not push it until a catalog sync revives it."""
        ...


class WarehouseMap(Protocol):
    def mappings(self, shop_id: str) -> dict[str, WarehouseMapping]:
        """The shop's location_id -> warehouse mappings."""
        ...


class StockLedger(Protocol):
    def get(self, shop_id: str, keys: Iterable[StockKey]) -> dict[StockKey, SkuWarehouseStock]:
        """Consistent reads of these (SKU, warehouse) ledger entries (absent ones left out)."""
        ...

    def record_level(self, level: SkuWarehouseStock) -> bool:
        """Store the level unless a newer as_of is stored (equal: the same level again, True)."""
        ...

    def record_confirmed(
        self, entry: SkuWarehouseStock, *, value: int, reserved: int, at: float
    ) -> bool:
        """TikTok confirmed `value` for the level at entry.level_as_of; False (nothing written)
        when a newer level was stored meanwhile: the value just sent may be stale."""
        ...

    def record_levels(self, levels: Sequence[SkuWarehouseStock]) -> list[bool]:
        """record_level for many at once (one round trip when none is stale), in order."""
        ...

    def record_confirmations(
        self, confirmations: Sequence[tuple[SkuWarehouseStock, int, int]], *, at: float
    ) -> list[bool]:
        """record_confirmed for many (entry, value, reserved) at once, in order."""
        ...

    def record_failure(
        self, shop_id: str, key: StockKey, *, value: int, error: str, at: float
    ) -> None: ...

    def levels(self, shop_id: str, sku_ids: Iterable[str] | None = None) -> list[SkuWarehouseStock]:
        """Every ledger entry of the shop (of these SKUs only, when given)."""
        ...

    def record_refusal(self, refusal: Refusal) -> None: ...

    def refusals(self, shop_id: str) -> list[Refusal]: ...

    def buffer_rules(self, shop_id: str) -> BufferRules: ...

    def save_buffer_rules(self, shop_id: str, rules: BufferRules) -> None: ...


class HeldReservations(Protocol):
    def held_since(self, shop_id: str, since: int) -> list[Reservation]:
        """Reservations of the shop's orders created at or after `since` (unix seconds), any
        state (one index query; the export keeps the held ones)."""
        ...


class InventoryApi(Protocol):
    def update_stock(
        self,
        shop: ShopAccess,
        product_id: str,
        skus: Sequence[SkuStock],
        *,
        deadline: Deadline | None = None,
    ) -> ItemOutcome: ...
