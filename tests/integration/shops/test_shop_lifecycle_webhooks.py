"""Type-6/7 webhooks (seller deauthorization, authorization expiring) from the Events table's
stream, through its one consumer (tts_sync.events.router, the EventRouterFunction's entry point)
into the Shops table. The token-refresh function refuses stream batches."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest

from tests.conftest import FakeLambdaContext, load_function
from tests.integration.shops.conftest import (
    SCHEDULED_EVENT,
    Wiring,
    emitted_metrics,
    seed_shop,
    token_refresh,
)
from tests.unit.orders.fakes import MemoryMissingOrderLedger, MemoryOrderStore, StaticShopAccess
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_sync.catalog.listing import ListingContext
from tts_sync.container import reset_container
from tts_sync.events import StoredEvent
from tts_sync.orders.runtime import OrderSyncDependencies
from tts_sync.orders.runtime import override_dependencies as override_order_sync
from tts_sync.orders.sync import SyncContext
from tts_sync.shops.jobs import InvalidTokenRefreshEventError
from tts_sync.shops.models import Shop, ShopNotUsableError, ShopStatus, ShopTokens
from tts_sync.webhooks.dynamo_store import DynamoEventStore
from tts_sync.webhooks.envelope import parse_envelope

DAY = 86_400
ORDER_SYNC_ENV = (
    "ORDERS_TABLE_NAME",
    "RESERVATIONS_TABLE_NAME",
    "CATALOG_TABLE_NAME",
    "SYNC_STATE_TABLE_NAME",
    "OUTBOUND_EVENT_BUS_NAME",
    "AUDIT_TABLE_NAME",
)


def route(batch: dict) -> dict:
    """One invocation of the Events stream's consumer, through its Lambda entry point."""
    result: dict = load_function("event_router").lambda_handler(batch, FakeLambdaContext(60_000))
    return result


@pytest.fixture(autouse=True)
def router(wiring: Wiring) -> Iterator[OrderSyncDependencies]:
    """The router's dependencies: the shops test wiring's DynamoShopStore and clock; orders
    and listings in memory (type 6/7 never touch them, which the asserts below check)."""
    publisher = MemoryEventPublisher()
    orders = MemoryOrderStore()
    dependencies = OrderSyncDependencies(
        sync=SyncContext(store=orders, publisher=publisher, clock=wiring.clock),
        listings=ListingContext(store=None, publisher=publisher, clock=wiring.clock),  # type: ignore[arg-type]
        shops=wiring.store,
        shop_access=StaticShopAccess(),
        watermarks=None,  # type: ignore[arg-type]
        missing_orders=MemoryMissingOrderLedger(),
        order_api=lambda: wiring.client,
        clock=wiring.clock,
    )
    override_order_sync(dependencies)
    yield dependencies
    override_order_sync(None)
    assert publisher.published == [] and orders.orders == {}


@pytest.fixture
def events_stream(stack, aws_endpoint):
    """The Events table with its stream, written by the webhook intake's own adapter."""
    dynamodb = stack["dynamodb"]
    name = f"events-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    stream_arn = dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    store = DynamoEventStore(dynamodb, name, "unused-quarantine")
    streams = boto3.client("dynamodbstreams", endpoint_url=aws_endpoint)

    def deliver(*bodies: dict) -> dict:
        from datetime import UTC, datetime

        for body in bodies:
            raw = json.dumps(body).encode()
            envelope = parse_envelope(raw)
            store.put_if_absent(
                StoredEvent(
                    event_key=envelope.event_key,
                    envelope=envelope,
                    payload=raw.decode(),
                    received_at=datetime.now(UTC),
                )
            )
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        for record in records:
            record["eventSourceARN"] = stream_arn
            record["dynamodb"]["ApproximateCreationDateTime"] = int(time.time())
        return {"Records": json.loads(json.dumps(records, default=str))}

    return deliver


def webhook(type_: int, shop_id: str, timestamp: int, **data: str) -> dict:
    return {
        "type": type_,
        "tts_notification_id": uuid.uuid4().hex,
        "shop_id": shop_id,
        "timestamp": timestamp,
        "data": {"message": "m", **data},
    }


def test_type_7_and_type_6_webhooks_mark_the_shops(wiring: Wiring, events_stream, capsys) -> None:
    expiring = seed_shop(wiring, access_ttl=5 * DAY)
    leaving = seed_shop(wiring, access_ttl=5 * DAY)
    now = int(time.time())
    batch = events_stream(
        webhook(7, expiring.shop_id, now, expiration_time=str(now + 30 * DAY)),
        webhook(6, leaving.shop_id, now),
    )
    assert route(batch) == {"batchItemFailures": []}
    marked = wiring.store.get(expiring.shop_id)
    assert marked is not None and marked.status is ShopStatus.REAUTHORIZATION_REQUIRED
    assert marked.authorization_expires_at == now + 30 * DAY
    assert marked.tokens == expiring.tokens  # still usable until the authorization lapses
    gone = wiring.store.get(leaving.shop_id)
    assert gone is not None and gone.status is ShopStatus.DEAUTHORIZED and gone.tokens is None
    with pytest.raises(ShopNotUsableError):
        gone.access()
    metrics = emitted_metrics(capsys.readouterr().out)
    assert {"ShopReauthorizationRequired", "ShopDeauthorized"} <= set(metrics)
    # The deauthorized shop is left alone by the hourly run.
    wiring.clock.advance(6 * DAY)
    report = token_refresh(SCHEDULED_EVENT)
    assert report["skipped"] == 1 and report["refreshed"] == 1


def test_webhook_older_than_the_last_consent_changes_nothing(wiring: Wiring, events_stream) -> None:
    shop = seed_shop(wiring, access_ttl=5 * DAY)  # authorized a minute ago
    batch = events_stream(webhook(6, shop.shop_id, int(time.time()) - 3600))
    assert route(batch) == {"batchItemFailures": []}
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.status is ShopStatus.ACTIVE and stored.tokens


def test_an_unreadable_expiration_time_still_marks_the_shop(
    wiring: Wiring, events_stream, capsys
) -> None:
    shop = seed_shop(wiring, access_ttl=5 * DAY)
    now = int(time.time())
    batch = events_stream(webhook(7, shop.shop_id, now, expiration_time="soon-ish"))
    assert route(batch) == {"batchItemFailures": []}
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.status is ShopStatus.REAUTHORIZATION_REQUIRED
    assert stored.status_reason == "authorization_expiring"
    assert stored.authorization_expires_at is None
    assert emitted_metrics(capsys.readouterr().out).count("ShopReauthorizationRequired") == 1


def test_daily_type_7_reminders_alarm_once(wiring: Wiring, events_stream, capsys) -> None:
    shop = seed_shop(wiring, access_ttl=5 * DAY)
    now = int(time.time())
    expiry = str(now + 30 * DAY)
    first = events_stream(webhook(7, shop.shop_id, now, expiration_time=expiry))
    assert route(first) == {"batchItemFailures": []}
    version = wiring.store.get(shop.shop_id).version  # type: ignore[union-attr]
    again = events_stream(webhook(7, shop.shop_id, now + 1, expiration_time=expiry))
    assert route({"Records": again["Records"][-1:]}) == {"batchItemFailures": []}
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.version == version
    assert stored.authorization_expires_at == now + 30 * DAY
    assert emitted_metrics(capsys.readouterr().out).count("ShopReauthorizationRequired") == 1


def test_a_bad_record_fails_alone(wiring: Wiring, events_stream) -> None:
    broken, leaving = seed_shop(wiring, access_ttl=5 * DAY), seed_shop(wiring, access_ttl=5 * DAY)
    now = int(time.time())
    batch = events_stream(webhook(6, broken.shop_id, now), webhook(6, leaving.shop_id, now))
    batch["Records"][0]["dynamodb"]["NewImage"]["payload"] = {"S": "{not json"}
    result = route(batch)
    bad = batch["Records"][0]["dynamodb"]["SequenceNumber"]
    assert result == {"batchItemFailures": [{"itemIdentifier": bad}]}
    assert wiring.store.get(broken.shop_id).status is ShopStatus.ACTIVE  # type: ignore[union-attr]
    stored = wiring.store.get(leaving.shop_id)
    assert stored is not None and stored.status is ShopStatus.DEAUTHORIZED


def test_stream_records_need_no_app_credentials(
    stack, events_stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router's default wiring with an unreadable secret: type 6/7 only touch the Shops
    table (the order tables and the bus are named, never called)."""
    from tts_sync.shops.dynamo_store import DynamoShopStore

    monkeypatch.setenv("APP_CREDENTIALS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:x")
    for name in ORDER_SYNC_ENV:
        monkeypatch.setenv(name, f"never-called-{name.lower()}")
    reset_container()
    override_order_sync(None)  # the default wiring, built from the environment
    store = DynamoShopStore(stack["dynamodb"], stack["shops"])
    store.save_authorization(
        Shop(
            shop_id="7001",
            cipher="c",
            tokens=ShopTokens.model_validate(
                {
                    "access_token": "TTP_a",
                    "access_token_expires_at": 1,
                    "refresh_token": "TTR_a",
                    "refresh_token_expires_at": 2,
                }
            ),
            authorized_at=1,
            updated_at=1,
        )
    )
    batch = events_stream(webhook(6, "7001", int(time.time())))
    assert route(batch) == {"batchItemFailures": []}
    assert store.get("7001").status is ShopStatus.DEAUTHORIZED  # type: ignore[union-attr]


def test_a_stream_batch_sent_to_the_token_function_is_refused_clearly(
    wiring: Wiring, events_stream
) -> None:
    shop = seed_shop(wiring, access_ttl=5 * DAY)
    batch = events_stream(webhook(6, shop.shop_id, int(time.time())))
    with pytest.raises(InvalidTokenRefreshEventError, match="EventRouterFunction"):
        token_refresh(batch)
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.status is ShopStatus.ACTIVE and stored.tokens
