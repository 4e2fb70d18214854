"""Tracking uploads over real wire protocols: TikTok Shop in the sandbox on loopback (the
product's own client signs and calls it), FulfilmentTable in the moto server (claims are
conditional writes), the order records in memory, driven through the function's entry logic
with SQS-shaped batches."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest

from tests.integration.orders.conftest import DEMO_ACCESS_TOKEN, api_client, create_tables
from tests.support import FakeLambdaContext
from tests.unit.orders.fakes import MemoryOrderStore
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_local.sandbox import DemoData, Sandbox
from tts_local.sandbox.seed import DEMO_CIPHER
from tts_sync.fulfilment.batch import handle_tracking_upload_event
from tts_sync.fulfilment.dynamo_store import DynamoFulfilmentStore
from tts_sync.fulfilment.ports import ShopTarget
from tts_sync.fulfilment.runtime import TrackingUploadDependencies, override_dependencies
from tts_sync.fulfilment.upload import UploadContext
from tts_sync.orders.sync import SyncContext
from tts_sync.outbound import OrderEventType
from tts_sync.tiktok import ShopAccess, TikTokClient

_ids = itertools.count(1)
WRITE_PATHS = ("/ship", "/packages", "/shipping_info/update")


class DemoShops:
    def __init__(self, shop_id: str, region: str = "US") -> None:
        self.shop_id, self.region = shop_id, region

    def target(self, shop_id: str) -> ShopTarget | None:
        if shop_id != self.shop_id:
            return None
        access = ShopAccess(
            shop_id=shop_id, shop_cipher=DEMO_CIPHER, access_token=DEMO_ACCESS_TOKEN
        )
        return ShopTarget(access=access, region=self.region)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Tracking:
    sandbox: Sandbox
    demo: DemoData
    client: TikTokClient
    store: DynamoFulfilmentStore
    orders: MemoryOrderStore
    publisher: MemoryEventPublisher
    dependencies: TrackingUploadDependencies
    clock: Clock

    @property
    def shop_id(self) -> str:
        return self.demo.shop.id

    def consume(self, *bodies: Any) -> dict[str, Any]:
        return self.invoke(sqs_batch(*bodies))

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return handle_tracking_upload_event(event, FakeLambdaContext(), lambda: 50.0)

    def writes(self) -> list[dict[str, Any]]:
        """Fulfilment writes TikTok received (mark shipped, ship, update shipping info)."""
        return [
            r
            for r in self.sandbox.requests("/fulfillment/")
            if r["method"] == "POST" and r["path"].endswith(WRITE_PATHS)
        ]

    def calls(self) -> list[dict[str, Any]]:
        return [r for r in self.sandbox.requests() if not r["path"].startswith("/_admin")]

    def use(self, **parts: Any) -> None:
        upload = replace(self.dependencies.upload, **parts)
        self.dependencies = replace(self.dependencies, upload=upload)
        override_dependencies(self.dependencies)

    def order(self, label: str) -> Any:
        return self.demo.orders[label]

    def tiktok_lines(self, label: str) -> list[tuple[str, str]]:
        order = self.sandbox.state.orders[self.order(label).id]
        return [
            (
                line.id,
                order.packages[line.package_id].tracking_number
                if line.package_id in order.packages
                else "",
            )
            for line in order.line_items
        ]

    def refusal_codes(self) -> list[str]:
        return [r.code.value for r in self.store.refusals(self.shop_id)]


def shipment(
    order_id: str, tracking: str = "1Z999AA10123456784", carrier: str = "UPS", **fields: Any
) -> dict[str, Any]:
    return {
        "shop_id": "7494049642642441621",
        "order_id": order_id,
        "carrier": carrier,
        "tracking_number": tracking,
        "shipped_at": "2026-12-01T15:00:00Z",
        **fields,
    }


def shipped_events(tracking: Tracking) -> list[Any]:
    """The Shipped events published to the back office."""
    return [e for e in tracking.publisher.published if e.detail_type == OrderEventType.SHIPPED]


def sqs_record(body: Any, message_id: str | None = None) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": message_id or f"msg-{next(_ids)}",
        "receiptHandle": f"handle-{next(_ids)}",
        "body": text,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:TrackingUploadQueue",
        "awsRegion": "us-east-1",
    }


def sqs_batch(*bodies: Any) -> dict[str, Any]:
    return {"Records": [sqs_record(b) for b in bodies]}


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


@dataclass
class _World:
    """One sandbox, client and FulfilmentTable per module (each test resets them): starting
    them per test cost about a second each."""

    sandbox: Sandbox
    client: TikTokClient
    dynamodb: Any
    table: str


@pytest.fixture(scope="module")
def world(moto_server: str) -> Iterator[_World]:
    from tests.integration.orders.conftest import APP_KEY, APP_SECRET

    with Sandbox(APP_KEY, APP_SECRET, port=0) as sandbox:
        dynamodb = boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1")
        tables = create_tables(dynamodb, "FulfilmentTable")
        client = api_client(sandbox)
        yield _World(sandbox, client, dynamodb, tables["FulfilmentTable"])
        client.close()


@pytest.fixture
def tracking(world: _World) -> Iterator[Tracking]:
    sandbox, client, dynamodb = world.sandbox, world.client, world.dynamodb
    sandbox.reset()
    _empty(dynamodb, world.table)
    demo = sandbox.seed_demo_data()
    store = DynamoFulfilmentStore(dynamodb, world.table)
    orders, publisher = MemoryOrderStore(), MemoryEventPublisher()
    clock = Clock(time.time())
    dependencies = TrackingUploadDependencies(
        upload=UploadContext(
            store=store,
            sync=SyncContext(store=orders, publisher=publisher, clock=clock),
            shops=DemoShops(demo.shop.id),
            api=lambda: client,
            clock=clock,
            lease_seconds=60.0,
        ),
        store=store,
        logistics_api=lambda: client,
    )
    override_dependencies(dependencies)
    setup = Tracking(sandbox, demo, client, store, orders, publisher, dependencies, clock)
    answer = setup.invoke({"job": "carriers_build", "shop_id": demo.shop.id})
    assert answer["delivery_options"], answer
    sandbox.clear_requests()
    yield setup
    override_dependencies(None)


def _empty(dynamodb: Any, table: str) -> None:
    for item in dynamodb.scan(TableName=table, ProjectionExpression="shop_id, fulfilment_key")[
        "Items"
    ]:
        dynamodb.delete_item(TableName=table, Key=item)
