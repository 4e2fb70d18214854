"""Quantity exports over real wire protocols: TikTok Shop in the sandbox on loopback (the
product's own client signs and calls it), the ledger, catalog map, warehouse mapping and
reservations in the moto server (tables as template.yaml declares them), driven through the
function's entry logic with SQS-shaped batches."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.integration.orders.conftest import (
    APP_KEY,
    APP_SECRET,
    DEMO_ACCESS_TOKEN,
    api_client,
    create_tables,
)
from tests.support import FakeLambdaContext
from tts_local.sandbox import Sandbox
from tts_local.sandbox.seed import DEMO_CIPHER, DemoData
from tts_sync.catalog.dynamo_store import DynamoCatalogMap
from tts_sync.catalog.models import CatalogSku, WarehouseMapping
from tts_sync.container import reset_container
from tts_sync.orders.dynamo_store import DynamoOrderStore
from tts_sync.stock.batch import handle_quantity_export_event
from tts_sync.stock.dynamo_store import DynamoHeldReservations, DynamoStockLedger
from tts_sync.stock.export import ExportContext
from tts_sync.stock.runtime import QuantityExportDependencies, override_dependencies
from tts_sync.tiktok import ShopAccess, TikTokClient

EAST, WEST, RETURNS = "7000000000000001001", "7000000000000001002", "7000000000000001003"
MUG_PRODUCT, TOTE_PRODUCT = "1729582718312380001", "1729582718312380002"
MUG_RED, MUG_BLUE, TOTE = "1729582718312381001", "1729582718312381002", "1729582718312382001"
_ids = itertools.count(1)


class DemoShopAccess:
    def __init__(self, *shop_ids: str) -> None:
        self.shop_ids = set(shop_ids)

    def access(self, shop_id: str) -> ShopAccess | None:
        if shop_id not in self.shop_ids:
            return None
        return ShopAccess(shop_id=shop_id, shop_cipher=DEMO_CIPHER, access_token=DEMO_ACCESS_TOKEN)


@dataclass
class StockExport:
    sandbox: Sandbox
    demo: DemoData
    client: TikTokClient
    dynamodb: Any
    tables: dict[str, str]
    ledger: DynamoStockLedger
    catalog: DynamoCatalogMap
    orders: DynamoOrderStore
    dependencies: QuantityExportDependencies
    shop_id: str

    def consume(self, *bodies: Any, deadline: float = 50.0) -> dict[str, Any]:
        """One invocation with an SQS batch of these bodies (dicts are JSON-encoded)."""
        return self.invoke(sqs_batch(*bodies), deadline=deadline)

    def invoke(self, event: dict[str, Any], deadline: float = 50.0) -> dict[str, Any]:
        return handle_quantity_export_event(event, FakeLambdaContext(), lambda: deadline)

    def tiktok_stock(self, sku_id: str) -> dict[str, int]:
        for product in self.sandbox.state.products.values():
            if sku_id in product.skus:
                return dict(product.skus[sku_id].stock)
        raise KeyError(sku_id)

    def inventory_calls(self) -> list[dict[str, Any]]:
        return [r for r in self.sandbox.requests("/product/") if "inventory" in r["path"]]

    def use(self, **parts: Any) -> None:
        """Swap parts of the export context (a flaky ledger, a clock)."""
        export = replace(self.dependencies.export, **parts)
        self.dependencies = replace(self.dependencies, export=export)
        override_dependencies(self.dependencies)


def level(
    seller_sku: str = "MUG-RED",
    available: int = 10,
    as_of: str | float = "2026-12-01T10:00:00Z",
    location_id: str = "WH-EAST",
    shop_id: str = "7494049642642441621",
    **fields: Any,
) -> dict[str, Any]:
    if isinstance(as_of, float | int):
        as_of = datetime.fromtimestamp(as_of, UTC).isoformat()
    body: dict[str, Any] = {"shop_id": shop_id, "available": available, "as_of": as_of}
    if "sku_id" not in fields:
        body["seller_sku"] = seller_sku
    if "warehouse_id" not in fields:
        body["location_id"] = location_id
    body.update(fields)
    return body


def sqs_record(body: Any, message_id: str | None = None) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": message_id or f"msg-{next(_ids)}",
        "receiptHandle": "handle",
        "body": text,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:QuantityExportQueue",
        "awsRegion": "us-east-1",
    }


def sqs_batch(*bodies: Any) -> dict[str, Any]:
    return {"Records": [sqs_record(b) for b in bodies]}


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def demo_catalog(shop_id: str, now: float) -> list[CatalogSku]:
    """The demo shop's SKUs as a catalog sync would store them (TikTok's seeded quantities)."""
    return [
        CatalogSku(
            shop_id=shop_id,
            sku_id=MUG_RED,
            product_id=MUG_PRODUCT,
            seller_sku="MUG-RED",
            warehouse_ids=[EAST, WEST],
            quantities={EAST: 40, WEST: 12},
            synced_at=now,
        ),
        CatalogSku(
            shop_id=shop_id,
            sku_id=MUG_BLUE,
            product_id=MUG_PRODUCT,
            seller_sku="MUG-BLUE",
            warehouse_ids=[EAST],
            quantities={EAST: 25},
            synced_at=now,
        ),
        CatalogSku(
            shop_id=shop_id,
            sku_id=TOTE,
            product_id=TOTE_PRODUCT,
            seller_sku="TOTE-NAT",
            warehouse_ids=[WEST],
            quantities={WEST: 8},
            synced_at=now,
        ),
    ]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(APP_KEY, APP_SECRET, port=0) as running:
        yield running


@pytest.fixture
def demo(sandbox: Sandbox) -> DemoData:
    return sandbox.seed_demo_data()


@pytest.fixture
def stock(aws_endpoint: str, sandbox: Sandbox, demo: DemoData) -> Iterator[StockExport]:
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    tables = create_tables(
        dynamodb, "StockTable", "CatalogTable", "OrdersTable", "ReservationsTable"
    )
    client = api_client(sandbox, read_timeout=1.0)
    ledger = DynamoStockLedger(dynamodb, tables["StockTable"])
    catalog = DynamoCatalogMap(dynamodb, tables["CatalogTable"])
    orders = DynamoOrderStore(dynamodb, tables["OrdersTable"], tables["ReservationsTable"])
    shop_id = demo.shop.id
    now = time.time()
    catalog.save_skus(demo_catalog(shop_id, now))
    for location_id, warehouse_id in (("WH-EAST", EAST), ("WH-WEST", WEST)):
        catalog.save_mapping(
            WarehouseMapping(
                shop_id=shop_id, location_id=location_id, warehouse_id=warehouse_id, mapped_at=now
            )
        )
    dependencies = QuantityExportDependencies(
        export=ExportContext(
            catalog=catalog,
            warehouses=catalog,
            ledger=ledger,
            reservations=DynamoHeldReservations(dynamodb, tables["ReservationsTable"]),
            shops=DemoShopAccess(shop_id),
            api=lambda: client,
            clock=time.time,
        ),
        catalog=catalog,
        catalog_api=lambda: client,
    )
    reset_container()
    override_dependencies(dependencies)
    yield StockExport(
        sandbox, demo, client, dynamodb, tables, ledger, catalog, orders, dependencies, shop_id
    )
    override_dependencies(None)
    client.close()
    reset_container()
