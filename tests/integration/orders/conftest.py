"""Order sync over real wire protocols: TikTok Shop in the sandbox on loopback (the product's
own TikTok client signs and calls it), the stores in memory (big volumes) or in the moto
server (tables created from template.yaml's own definitions)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest

from tests.support import FakeLambdaContext, template_resources
from tests.unit.orders.fakes import MemoryMissingOrderLedger, MemoryOrderStore, StaticShopAccess
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_local.sandbox import Sandbox
from tts_local.sandbox.seed import DEMO_CIPHER, DemoData
from tts_sync.catalog.dynamo_store import DynamoListingStore
from tts_sync.catalog.listing import ListingContext
from tts_sync.container import reset_container
from tts_sync.events.router import handle_events_stream
from tts_sync.orders.dynamo_store import (
    DynamoMissingOrderLedger,
    DynamoOrderStore,
    DynamoWatermarkStore,
)
from tts_sync.orders.runtime import OrderSyncDependencies, override_dependencies
from tts_sync.orders.sync import SyncContext
from tts_sync.shops.dynamo_store import DynamoShopStore
from tts_sync.tiktok import BackoffPolicy, ShopAccess, TikTokApiConfig, TikTokClient

APP_KEY = "orders-app-key"
APP_SECRET = "orders-app-secret-0123456789"
DEMO_ACCESS_TOKEN = "TTP_demo_access_token"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(APP_KEY, APP_SECRET, port=0) as running:
        yield running


@pytest.fixture
def demo(sandbox: Sandbox) -> DemoData:
    return sandbox.seed_demo_data()


def api_client(sandbox: Sandbox, **config: Any) -> TikTokClient:
    return TikTokClient(
        APP_KEY,
        APP_SECRET,
        config=TikTokApiConfig(
            api_base_url=sandbox.url,
            auth_base_url=sandbox.url,
            read_timeout=config.pop("read_timeout", 2.0),
            connect_timeout=0.5,
            **config,
        ),
        backoff=BackoffPolicy(base_seconds=0.01, cap_seconds=0.05, max_attempts=3),
    )


@dataclass
class OrderSync:
    """What a test drives and inspects: the consumer's dependencies, plus the sandbox."""

    sandbox: Sandbox
    demo: DemoData
    client: TikTokClient
    store: Any  # MemoryOrderStore or DynamoOrderStore
    publisher: MemoryEventPublisher
    dependencies: OrderSyncDependencies
    shop_id: str

    def consume(self, batch: dict[str, Any]) -> dict[str, Any]:
        """One invocation of the Events stream consumer, through its real entry logic."""
        return handle_events_stream(batch, FakeLambdaContext(), lambda: 50.0)

    def detail_calls(self) -> int:
        return len(self.sandbox.requests("/order/202309/orders"))


def _dependencies(
    store: Any, publisher: MemoryEventPublisher, client: TikTokClient, **parts: Any
) -> OrderSyncDependencies:
    return OrderSyncDependencies(
        sync=SyncContext(store=store, publisher=publisher, clock=time.time),
        listings=parts.get("listings")
        or ListingContext(store=None, publisher=publisher, clock=time.time),  # type: ignore[arg-type]
        shops=parts.get("shops"),  # type: ignore[arg-type]
        shop_access=parts.get("shop_access") or StaticShopAccess(),
        watermarks=parts.get("watermarks"),  # type: ignore[arg-type]
        missing_orders=parts.get("missing_orders") or MemoryMissingOrderLedger(),
        order_api=lambda: client,
    )


@pytest.fixture
def memory_sync(sandbox: Sandbox, demo: DemoData) -> Iterator[OrderSync]:
    """Order sync with in-memory stores and the real client against the sandbox."""
    client = api_client(sandbox)
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    access = _DemoShopAccess(demo)
    dependencies = _dependencies(store, publisher, client, shop_access=access)
    override_dependencies(dependencies)
    yield OrderSync(sandbox, demo, client, store, publisher, dependencies, demo.shop.id)
    override_dependencies(None)
    client.close()


class _DemoShopAccess(StaticShopAccess):
    def __init__(self, demo: DemoData) -> None:
        super().__init__(demo.shop.id)

    def access(self, shop_id: str) -> ShopAccess | None:
        if shop_id not in self.shop_ids:
            return None
        return ShopAccess(shop_id=shop_id, shop_cipher=DEMO_CIPHER, access_token=DEMO_ACCESS_TOKEN)


def create_tables(dynamodb: Any, *logical_ids: str) -> dict[str, str]:
    """Tables exactly as template.yaml declares them (keys, indexes), with fresh names."""
    resources = template_resources()
    names = {}
    for logical_id in logical_ids:
        properties = resources[logical_id]["Properties"]
        name = f"{logical_id}-{uuid.uuid4().hex[:8]}"
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if "GlobalSecondaryIndexes" in properties:
            request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        dynamodb.create_table(**request)
        names[logical_id] = name
    return names


@pytest.fixture
def dynamo_sync(aws_endpoint: str, sandbox: Sandbox, demo: DemoData) -> Iterator[OrderSync]:
    """Order sync with the DynamoDB adapters against the moto server."""
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    tables = create_tables(
        dynamodb, "OrdersTable", "ReservationsTable", "CatalogTable", "SyncStateTable"
    )
    client = api_client(sandbox)
    store = DynamoOrderStore(dynamodb, tables["OrdersTable"], tables["ReservationsTable"])
    publisher = MemoryEventPublisher()
    dependencies = _dependencies(
        store,
        publisher,
        client,
        shop_access=_DemoShopAccess(demo),
        watermarks=DynamoWatermarkStore(dynamodb, tables["SyncStateTable"]),
        missing_orders=DynamoMissingOrderLedger(dynamodb, tables["SyncStateTable"]),
        listings=ListingContext(
            store=DynamoListingStore(dynamodb, tables["CatalogTable"]),
            publisher=publisher,
            clock=time.time,
        ),
    )
    reset_container()
    override_dependencies(dependencies)
    sync = OrderSync(sandbox, demo, client, store, publisher, dependencies, demo.shop.id)
    sync.dynamodb = dynamodb  # type: ignore[attr-defined]
    sync.tables = tables  # type: ignore[attr-defined]
    yield sync
    override_dependencies(None)
    client.close()
    reset_container()


@pytest.fixture
def jobs_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The order sync function's configuration (the stores themselves come from the override):
    the defaults of template.yaml's schedules, read afresh."""
    for name in (
        "ORDERS_TABLE_NAME",
        "RESERVATIONS_TABLE_NAME",
        "CATALOG_TABLE_NAME",
        "SYNC_STATE_TABLE_NAME",
        "OUTBOUND_EVENT_BUS_NAME",
    ):
        monkeypatch.setenv(name, f"overridden-{name.lower()}")
    reset_container()
    yield
    reset_container()


def run_job(event: dict[str, Any], deadline: Any = None) -> dict[str, Any]:
    """One invocation of the order sync function's entry logic (schedule or console)."""
    from tts_sync.orders.jobs import handle_order_sync_event

    return handle_order_sync_event(event, deadline or (lambda: 250.0))


def connect_shops(sync: OrderSync, *shop_ids: str) -> DynamoShopStore:
    """Shops onboarded for real: grants issued by the sandbox, stored in a Shops table shaped
    like template.yaml's, read by the product's StoreShopAccess. The sync's dependencies then
    name every connected shop (what the schedule's {"job": "reconcile"} walks)."""
    from tts_sync.orders.runtime import StoreShopAccess
    from tts_sync.shops.models import Shop, ShopTokens

    dynamodb = sync.dynamodb  # type: ignore[attr-defined]
    table = create_tables(dynamodb, "ShopsTable")["ShopsTable"]
    store = DynamoShopStore(dynamodb, table)
    now = int(time.time())
    for shop_id in shop_ids:
        shop = sync.sandbox.state.shops.get(shop_id) or sync.sandbox.seed_shop(shop_id)
        grant = sync.sandbox.issue_token([shop.id])
        store.save_authorization(
            Shop(
                shop_id=shop.id,
                cipher=shop.cipher,
                name=shop.name,
                open_id=grant.open_id,
                tokens=ShopTokens.model_validate(
                    {
                        "access_token": grant.access_token,
                        "access_token_expires_at": grant.access_token_expire_in,
                        "refresh_token": grant.refresh_token,
                        "refresh_token_expires_at": grant.refresh_token_expire_in,
                    }
                ),
                authorized_at=now - 60,
                updated_at=now - 60,
            )
        )
    dependencies = replace(sync.dependencies, shops=store, shop_access=StoreShopAccess(store))
    sync.dependencies = dependencies
    override_dependencies(dependencies)
    return store


__all__ = [
    "DynamoShopStore",
    "OrderSync",
    "api_client",
    "connect_shops",
    "create_tables",
    "run_job",
]
