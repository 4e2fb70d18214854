"""Ports of the catalog map and warehouse mapping. Adapters: dynamo_store.DynamoCatalogMap
(CatalogTable), the TikTok client (product search/detail, warehouses)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from tts_sync.catalog.models import CatalogSku, WarehouseMapping
from tts_sync.tiktok import Deadline, ShopAccess
from tts_sync.tiktok.models import Product, Warehouse


class CatalogStore(Protocol):
    def all_skus(self, shop_id: str) -> list[CatalogSku]: ...

    def skus_by_id(self, shop_id: str, sku_ids: Iterable[str]) -> dict[str, CatalogSku]: ...

    def skus_of_product(self, shop_id: str, product_id: str) -> list[CatalogSku]: ...

    def seller_sku_pointers(self, shop_id: str, seller_skus: Iterable[str]) -> dict[str, str]:
        """seller SKU -> SKU id; "" for a seller SKU marked duplicated."""
        ...

    def save_skus(self, skus: Iterable[CatalogSku]) -> None: ...

    def forget_seller_sku(self, shop_id: str, seller_sku: str) -> None: ...

    def mappings(self, shop_id: str) -> dict[str, WarehouseMapping]: ...

    def save_mapping(self, mapping: WarehouseMapping) -> None: ...

    def delete_mapping(self, shop_id: str, location_id: str) -> bool: ...


class CatalogApi(Protocol):
    def search_products(
        self, shop: ShopAccess, *, status: str = "ALL", deadline: Deadline | None = None
    ) -> Iterator[Product]: ...

    def get_product_detail(
        self, shop: ShopAccess, product_id: str, *, deadline: Deadline | None = None
    ) -> Product: ...

    def get_warehouses(
        self, shop: ShopAccess, *, deadline: Deadline | None = None
    ) -> list[Warehouse]: ...
