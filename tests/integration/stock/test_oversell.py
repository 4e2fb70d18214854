"""Never oversold: TikTok orders arrive through webhooks (the Events stream consumer hydrates
them and writes their reservations) while stock levels the back office computed before them
are still in the queue. Whatever the interleaving, the quantity TikTok ends with never exceeds
the truth (what the back office counted minus the units sold on TikTok after it counted).

The re-export on reservation changes reads ReservationsTable's real stream in the moto server,
as the QuantityExportFunction's ReservationChanges event source delivers it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.integration.orders.streams import stream_batch
from tests.integration.stock.conftest import EAST, MUG_RED, StockExport, failed_ids, level
from tests.support import FakeLambdaContext, template_resources
from tests.unit.orders.fakes import MemoryMissingOrderLedger
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_sync.catalog.listing import ListingContext
from tts_sync.events.router import handle_events_stream
from tts_sync.orders.dynamo_store import DynamoOrderStore
from tts_sync.orders.runtime import OrderSyncDependencies
from tts_sync.orders.runtime import override_dependencies as override_order_sync
from tts_sync.orders.sync import SyncContext
from tts_sync.stock.dynamo_store import DynamoHeldReservations

RED = {
    "sku_id": MUG_RED,
    "product_id": "1729582718312380001",
    "seller_sku": "MUG-RED",
    "price": "14.00",
}


class ReservationStream:
    """ReservationsTable's stream in moto, read like the event source mapping does."""

    def __init__(self, endpoint: str, stream_arn: str) -> None:
        self._client = boto3.client("dynamodbstreams", endpoint_url=endpoint)
        shard = self._client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        self._iterator = self._client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def batch(self) -> dict[str, Any]:
        reply = self._client.get_records(ShardIterator=self._iterator)
        self._iterator = reply["NextShardIterator"]
        return {"Records": reply["Records"]}


@pytest.fixture
def world(stock: StockExport, aws_endpoint: str) -> Iterator[tuple[StockExport, Any]]:
    """The stock fixture, with ReservationsTable re-created with its stream (as template.yaml
    declares it) and the Events stream consumer writing orders and reservations into it."""
    properties = template_resources()["ReservationsTable"]["Properties"]
    name = f"ReservationsTable-{uuid.uuid4().hex[:8]}"
    created = stock.dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
        StreamSpecification={"StreamEnabled": True, **properties["StreamSpecification"]},
    )
    stream = ReservationStream(aws_endpoint, created["TableDescription"]["LatestStreamArn"])
    orders = DynamoOrderStore(stock.dynamodb, stock.tables["OrdersTable"], name)
    stock.tables["ReservationsTable"] = name
    stock.use(reservations=DynamoHeldReservations(stock.dynamodb, name))
    publisher = MemoryEventPublisher()
    override_order_sync(
        OrderSyncDependencies(
            sync=SyncContext(store=orders, publisher=publisher, clock=time.time),
            listings=ListingContext(store=None, publisher=publisher, clock=time.time),  # type: ignore[arg-type]
            shops=None,  # type: ignore[arg-type]
            shop_access=stock.dependencies.export.shops,
            watermarks=None,  # type: ignore[arg-type]
            missing_orders=MemoryMissingOrderLedger(),
            order_api=lambda: stock.client,
        )
    )
    yield stock, stream
    override_order_sync(None)


def deliver_webhooks(stock: StockExport, order_id: str) -> None:
    """TikTok's webhooks for the order reach the Events stream consumer."""
    envelopes = [n.envelope() for n in stock.sandbox.notifications_for(order_id)]
    response = handle_events_stream(stream_batch(envelopes), FakeLambdaContext(), lambda: 50.0)
    assert response == {"batchItemFailures": []}


def reservations_flow(stock: StockExport, stream: ReservationStream) -> None:
    """The ReservationChanges event source delivers what order sync wrote."""
    batch = stream.batch()
    if batch["Records"]:
        assert failed_ids(stock.invoke(batch)) == []


def buy(stock: StockExport, units: int, at: int | None = None) -> str:
    order = stock.sandbox.place_order(
        stock.shop_id, [RED] * units, notify=False, warehouse_id=EAST, at=at
    )
    return order.id


def test_level_exported_before_order_sync_saw_the_order_is_corrected(
    world: tuple[StockExport, ReservationStream],
) -> None:
    stock, stream = world
    counted_at = time.time() - 5
    queued = level("MUG-RED", 10, as_of=counted_at)  # computed before the order
    order_id = buy(stock, 2)  # a buyer takes 2 on TikTok after the count
    truth = 10 - 2
    stock.consume(queued)  # the level goes out before the order's webhook is processed
    deliver_webhooks(stock, order_id)  # order sync: 2 units held
    reservations_flow(stock, stream)  # the SKU is pushed again from its last level
    assert stock.tiktok_stock(MUG_RED)[EAST] == truth


def test_order_seen_before_the_stale_level_is_exported(
    world: tuple[StockExport, ReservationStream],
) -> None:
    stock, stream = world
    counted_at = time.time() - 5
    queued = level("MUG-RED", 10, as_of=counted_at)
    order_id = buy(stock, 3)
    deliver_webhooks(stock, order_id)
    reservations_flow(stock, stream)  # nothing exported yet: nothing to correct
    stock.consume(queued)
    assert stock.tiktok_stock(MUG_RED)[EAST] == 10 - 3


def test_orders_interleaved_with_levels_never_exceed_the_truth(
    world: tuple[StockExport, ReservationStream],
) -> None:
    """Two orders and two counts, delivered in a deliberately bad order; after each quiescent
    point the quantity on TikTok is at most the truth, and it ends equal to it."""
    stock, stream = world
    start = int(time.time()) - 100
    level_a = level("MUG-RED", 20, as_of=float(start))
    first = buy(stock, 1, at=start + 10)
    level_b = level("MUG-RED", 19, as_of=float(start + 20))  # counted the first order
    second = buy(stock, 2, at=start + 30)
    truth = 19 - 2
    # The newer count goes out before either order's webhook is processed ...
    stock.consume(level_b)
    deliver_webhooks(stock, second)
    reservations_flow(stock, stream)
    assert stock.tiktok_stock(MUG_RED)[EAST] == truth
    # ... then the stale count (superseded: never put back on sale) and the first order.
    stock.consume(level_a)
    deliver_webhooks(stock, first)
    reservations_flow(stock, stream)
    assert stock.tiktok_stock(MUG_RED)[EAST] == truth
    # The buyer of the second order cancels: its two units are for sale again.
    stock.sandbox.advance_order(second, "CANCELLED", notify=False)
    deliver_webhooks(stock, second)
    reservations_flow(stock, stream)
    assert stock.tiktok_stock(MUG_RED)[EAST] == 19
