"""Configuration and container-wide wiring of order sync (the Events stream consumer and the
order sync function): cached factories and the one override for tests (tts_sync.wiring)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from tts_sync.audit.runtime import audit_dependencies
from tts_sync.aws import dynamodb_client, events_client
from tts_sync.catalog.dynamo_store import DynamoCatalogMap, DynamoListingStore
from tts_sync.catalog.listing import ListingContext
from tts_sync.catalog.refresh import ProductRefreshContext
from tts_sync.config import load_config
from tts_sync.orders.dynamo_store import (
    DynamoMissingOrderLedger,
    DynamoOrderStore,
    DynamoWatermarkStore,
)
from tts_sync.orders.ports import MissingOrderLedger, OrderApi, ShopAccessSource, WatermarkStore
from tts_sync.orders.reconcile import PollPolicy
from tts_sync.orders.sync import SyncContext
from tts_sync.outbound import EventBridgePublisher
from tts_sync.shops.ports import ShopStore
from tts_sync.shops.runtime import shop_api_client, shop_store
from tts_sync.tiktok import ShopAccess
from tts_sync.wiring import Wiring


class OrderSyncConfig(BaseModel):
    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)
    reservations_table_name: str = Field(alias="RESERVATIONS_TABLE_NAME", min_length=1)
    catalog_table_name: str = Field(alias="CATALOG_TABLE_NAME", min_length=1)
    sync_state_table_name: str = Field(alias="SYNC_STATE_TABLE_NAME", min_length=1)
    event_bus_name: str = Field(alias="OUTBOUND_EVENT_BUS_NAME", min_length=1)
    poll_overlap_seconds: int = Field(default=600, alias="TTS_POLL_OVERLAP_SECONDS", ge=0)
    poll_settle_seconds: int = Field(default=60, alias="TTS_POLL_SETTLE_SECONDS", ge=0)
    poll_first_lookback_seconds: int = Field(
        default=86_400, alias="TTS_POLL_FIRST_LOOKBACK_SECONDS", gt=0
    )
    # Warn when a seller-shipped order's ship-by time is closer than this.
    ship_warning_seconds: int = Field(default=12 * 3600, alias="TTS_SHIP_WARNING_SECONDS", gt=0)

    @property
    def poll_policy(self) -> PollPolicy:
        return PollPolicy(
            overlap_seconds=self.poll_overlap_seconds,
            settle_seconds=self.poll_settle_seconds,
            first_run_lookback_seconds=self.poll_first_lookback_seconds,
        )


class StoreShopAccess:
    """API access of connected shops, from the Shops table (None when not usable)."""

    def __init__(self, store: ShopStore) -> None:
        self._store = store

    def access(self, shop_id: str) -> ShopAccess | None:
        shop = self._store.get(shop_id)
        if shop is None or not shop.usable:
            return None
        return shop.access()


@dataclass(frozen=True)
class OrderSyncDependencies:
    sync: SyncContext
    listings: ListingContext
    shops: ShopStore
    shop_access: ShopAccessSource
    watermarks: WatermarkStore
    missing_orders: MissingOrderLedger
    # A factory: records that only mark shops (types 6/7) never read the app secret.
    order_api: Callable[[], OrderApi]
    clock: Callable[[], float] = time.time
    # Product webhooks (5/15/16/50) refresh the catalog map from Get Product Detail.
    products: ProductRefreshContext | None = None


def _default_dependencies() -> OrderSyncDependencies:
    config = load_config(OrderSyncConfig)
    client = dynamodb_client()
    publisher = EventBridgePublisher(events_client(), config.event_bus_name)
    store = DynamoOrderStore(client, config.orders_table_name, config.reservations_table_name)
    shops = shop_store()
    return OrderSyncDependencies(
        sync=SyncContext(
            store=store, publisher=publisher, clock=time.time, audit=audit_dependencies().log
        ),
        listings=ListingContext(
            store=DynamoListingStore(client, config.catalog_table_name),
            publisher=publisher,
            clock=time.time,
        ),
        shops=shops,
        shop_access=StoreShopAccess(shops),
        watermarks=DynamoWatermarkStore(client, config.sync_state_table_name),
        missing_orders=DynamoMissingOrderLedger(client, config.sync_state_table_name),
        order_api=shop_api_client,
        products=ProductRefreshContext(
            store=DynamoCatalogMap(client, config.catalog_table_name),
            api=shop_api_client,
            clock=time.time,
        ),
    )


order_sync_dependencies = Wiring(_default_dependencies)
override_dependencies = order_sync_dependencies.override
