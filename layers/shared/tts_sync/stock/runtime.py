"""Configuration and container-wide wiring of the quantity export function: cached factories
and the one override for tests (tts_sync.wiring)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from tts_sync.audit.runtime import audit_dependencies
from tts_sync.aws import dynamodb_client
from tts_sync.catalog.dynamo_store import DynamoCatalogMap
from tts_sync.catalog.ports import CatalogApi, CatalogStore
from tts_sync.config import load_config
from tts_sync.orders.runtime import StoreShopAccess
from tts_sync.shops.runtime import shop_api_client, shop_store
from tts_sync.stock.dynamo_store import DynamoHeldReservations, DynamoStockLedger
from tts_sync.stock.export import ExportContext
from tts_sync.wiring import Wiring


class QuantityExportConfig(BaseModel):
    stock_table_name: str = Field(alias="STOCK_TABLE_NAME", min_length=1)
    catalog_table_name: str = Field(alias="CATALOG_TABLE_NAME", min_length=1)
    reservations_table_name: str = Field(alias="RESERVATIONS_TABLE_NAME", min_length=1)


@dataclass(frozen=True)
class QuantityExportDependencies:
    export: ExportContext
    catalog: CatalogStore
    catalog_api: Callable[[], CatalogApi]  # the TikTok client (product search, warehouses)
    # Every shop id in the Shops table (the scheduled catalog sync of all shops).
    shop_ids: Callable[[], list[str]] | None = None


def _default_dependencies() -> QuantityExportDependencies:
    config = load_config(QuantityExportConfig)
    client = dynamodb_client()
    catalog = DynamoCatalogMap(client, config.catalog_table_name)
    shops = shop_store()
    return QuantityExportDependencies(
        export=ExportContext(
            catalog=catalog,
            warehouses=catalog,
            ledger=DynamoStockLedger(client, config.stock_table_name),
            reservations=DynamoHeldReservations(client, config.reservations_table_name),
            shops=StoreShopAccess(shops),
            api=shop_api_client,
            clock=time.time,
            audit=audit_dependencies().log,
        ),
        catalog=catalog,
        catalog_api=shop_api_client,
        shop_ids=shops.shop_ids,
    )


quantity_export_dependencies = Wiring(_default_dependencies)
override_dependencies = quantity_export_dependencies.override
