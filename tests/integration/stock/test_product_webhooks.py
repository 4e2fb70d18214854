"""Product webhooks (5, 15, 16, 50) keep the catalog map current: the Events stream consumer
refreshes the products a batch names from Get Product Detail (one call per distinct product,
never a shop-wide search), revives blocked SKUs, marks gone products, reports duplicate
seller SKUs, and retries only the records of a product whose call failed. Plus the scheduled
full sync of every connected shop."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.orders.streams import stream_batch
from tests.integration.stock.conftest import (
    EAST,
    MUG_BLUE,
    MUG_PRODUCT,
    TOTE,
    TOTE_PRODUCT,
    WEST,
    StockExport,
    failed_ids,
    level,
)
from tests.support import FakeLambdaContext, template_resources
from tests.unit.orders.fakes import MemoryMissingOrderLedger
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_local.sandbox.webhooks import Notification
from tts_sync.catalog.dynamo_store import DynamoListingStore
from tts_sync.catalog.listing import ListingContext
from tts_sync.catalog.refresh import ProductRefreshContext
from tts_sync.events.router import handle_events_stream
from tts_sync.orders.runtime import OrderSyncDependencies
from tts_sync.orders.runtime import override_dependencies as override_order_sync
from tts_sync.orders.sync import SyncContext

NEW_PRODUCT, NEW_SKU = "1729582718312380077", "1729582718312387701"


@pytest.fixture
def webhooks(stock: StockExport) -> Iterator[StockExport]:
    publisher = MemoryEventPublisher()
    override_order_sync(
        OrderSyncDependencies(
            sync=SyncContext(store=stock.orders, publisher=publisher, clock=time.time),
            listings=ListingContext(
                store=DynamoListingStore(stock.dynamodb, stock.tables["CatalogTable"]),
                publisher=publisher,
                clock=time.time,
            ),
            shops=None,  # type: ignore[arg-type]
            shop_access=stock.dependencies.export.shops,
            watermarks=None,  # type: ignore[arg-type]
            missing_orders=MemoryMissingOrderLedger(),
            order_api=lambda: stock.client,
            products=ProductRefreshContext(
                store=stock.catalog, api=lambda: stock.client, clock=time.time
            ),
        )
    )
    yield stock
    override_order_sync(None)


def deliver(stock: StockExport, notifications: list[Notification]) -> dict[str, Any]:
    batch = stream_batch([n.envelope() for n in notifications])
    return handle_events_stream(batch, FakeLambdaContext(), lambda: 50.0)


def product_calls(stock: StockExport) -> list[str]:
    return [
        r["path"]
        for r in stock.sandbox.requests("/product/")
        if "inventory" not in r["path"] and r["status"] == 200
    ]


def test_a_batch_of_product_webhooks_reads_each_named_product_once(webhooks: StockExport) -> None:
    stock, sandbox = webhooks, webhooks.sandbox
    sandbox.create_product(
        stock.shop_id,
        NEW_PRODUCT,
        title="Travel mug",
        skus=[{"id": NEW_SKU, "seller_sku": "MUG-TRAVEL", "stock": {EAST: 3, WEST: 4}}],
        notify=False,
    )
    sandbox.change_product(MUG_PRODUCT, title="Mug (new photo)", notify=False)
    sandbox.change_product(MUG_PRODUCT, title="Mug (newer photo)", notify=False)
    sandbox.set_sku_status(MUG_PRODUCT, MUG_BLUE, "SELLER_DEACTIVATED", notify=False)
    sandbox.clear_requests()
    sent = sandbox.notifications_for()
    assert sorted({n.type for n in sent}) == [15, 16, 50]
    assert deliver(stock, sent + sent[:1]) == {"batchItemFailures": []}  # a duplicate too
    assert sorted(product_calls(stock)) == [
        f"/product/202309/products/{MUG_PRODUCT}",
        f"/product/202309/products/{NEW_PRODUCT}",
    ]  # one detail call per product named, no Product Search
    created = stock.catalog.skus_by_seller_sku(stock.shop_id, ["MUG-TRAVEL"])["MUG-TRAVEL"]
    assert (created.product_id, created.quantities) == (NEW_PRODUCT, {EAST: 3, WEST: 4})
    blue = stock.catalog.skus_by_id(stock.shop_id, [MUG_BLUE])[MUG_BLUE]
    assert blue.status == "SELLER_DEACTIVATED" and not blue.pushable
    before = len(stock.inventory_calls())
    stock.consume(level("MUG-BLUE", 4), level("MUG-TRAVEL", 2))
    assert len(stock.inventory_calls()) == before + 1  # the travel mug; blue is refused
    assert stock.tiktok_stock(NEW_SKU) == {EAST: 2, WEST: 4}
    refusal = stock.ledger.refusals(stock.shop_id)[-1]
    assert MUG_BLUE in refusal.reason and "SELLER_DEACTIVATED" in refusal.reason


def test_a_sku_back_to_live_loses_its_block_and_a_gone_product_is_not_pushed(
    webhooks: StockExport,
) -> None:
    stock, sandbox = webhooks, webhooks.sandbox
    stock.catalog.block_sku(stock.shop_id, TOTE, "TikTok code 12052260: product is DELETED")
    sandbox.set_sku_status(TOTE_PRODUCT, TOTE, "LIVE", notify=False)
    assert deliver(stock, sandbox.notifications_for()) == {"batchItemFailures": []}
    tote = stock.catalog.skus_by_id(stock.shop_id, [TOTE])[TOTE]
    assert tote.pushable and tote.blocked_reason == ""
    stock.consume(level("TOTE-NAT", 6, location_id="WH-WEST"))
    assert stock.tiktok_stock(TOTE) == {WEST: 6}
    # Deleted for good: Get Product Detail answers 404; its SKUs are marked, not pushed.
    sandbox.clear_notifications()
    sandbox.set_product_status(TOTE_PRODUCT, "DELETED", notify=False)
    notifications = sandbox.notifications_for()
    del sandbox.state.products[TOTE_PRODUCT]
    assert deliver(stock, notifications) == {"batchItemFailures": []}
    assert stock.catalog.skus_by_id(stock.shop_id, [TOTE])[TOTE].status == "DELETED"
    before = len(stock.inventory_calls())
    stock.consume(level("TOTE-NAT", 5, location_id="WH-WEST"))
    assert len(stock.inventory_calls()) == before
    assert "DELETED" in stock.ledger.refusals(stock.shop_id)[-1].reason


def test_a_throttled_detail_call_retries_only_the_records_naming_that_product(
    webhooks: StockExport,
) -> None:
    stock, sandbox = webhooks, webhooks.sandbox
    sandbox.change_product(MUG_PRODUCT, title="Mug v2", notify=False)
    sandbox.change_product(TOTE_PRODUCT, title="Tote v2", notify=False)
    sandbox.inject_fault(f"/product/202309/products/{TOTE_PRODUCT}", "429", count=10)
    sent = sandbox.notifications_for()
    batch = stream_batch([n.envelope() for n in sent])
    sequences = [r["dynamodb"]["SequenceNumber"] for r in batch["Records"]]
    response = handle_events_stream(batch, FakeLambdaContext(), lambda: 50.0)
    assert failed_ids(response) == [sequences[1]]  # the tote's record only
    sandbox.clear_faults()
    stock.sandbox.change_product(
        TOTE_PRODUCT,
        add_skus=[{"id": "1729582718312382002", "seller_sku": "TOTE-BLK", "stock": {WEST: 1}}],
        notify=False,
    )
    assert deliver(stock, sent[1:]) == {"batchItemFailures": []}  # the stream's retry
    assert "TOTE-BLK" in stock.catalog.skus_by_seller_sku(stock.shop_id, ["TOTE-BLK"])


def test_a_seller_sku_a_webhook_finds_on_a_second_sku_is_reported_not_guessed(
    webhooks: StockExport,
) -> None:
    stock, sandbox = webhooks, webhooks.sandbox
    sandbox.create_product(
        stock.shop_id,
        NEW_PRODUCT,
        skus=[{"id": NEW_SKU, "seller_sku": "MUG-BLUE", "stock": {EAST: 1}}],
        notify=False,
    )
    assert deliver(stock, sandbox.notifications_for()) == {"batchItemFailures": []}
    assert stock.catalog.skus_by_seller_sku(stock.shop_id, ["MUG-BLUE"]) == {}
    # Refreshing either product later keeps it a duplicate until a full sync settles it.
    sandbox.clear_notifications()
    sandbox.change_product(MUG_PRODUCT, title="Mug v3", notify=False)
    assert deliver(stock, sandbox.notifications_for()) == {"batchItemFailures": []}
    assert stock.catalog.skus_by_seller_sku(stock.shop_id, ["MUG-BLUE"]) == {}
    stock.consume(level("MUG-BLUE", 3))
    assert "not in the catalog map" in stock.ledger.refusals(stock.shop_id)[-1].reason


def test_the_scheduled_full_sync_covers_every_connected_shop(webhooks: StockExport) -> None:
    from dataclasses import replace

    from tts_sync.stock.runtime import override_dependencies

    stock = webhooks
    override_dependencies(
        replace(stock.dependencies, shop_ids=lambda: ["1111111111111111111", stock.shop_id])
    )
    (schedule,) = [
        e["Properties"]
        for e in template_resources()["QuantityExportFunction"]["Properties"]["Events"].values()
        if e["Type"] == "Schedule"
    ]
    answer = stock.invoke(json.loads(schedule["Input"]))
    assert set(answer["synced"]) == {stock.shop_id}  # the other one is not connected
    assert answer["synced"][stock.shop_id]["skus"] == 3 and answer["failed"] == {}
    assert schedule["Schedule"] == "rate(6 hours)"
