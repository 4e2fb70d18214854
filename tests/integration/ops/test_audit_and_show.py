"""The audit trail and `ops show` over DynamoDB (moto server, tables as template.yaml declares
them): an order's life through the Events stream consumer against the sandbox, read back by
the OrderSyncFunction's console jobs and by `tts-sync ops audit|show` (its invoker calling the
function's entry logic in-process). No buyer PII, never a token; replays add no item."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import pytest

from tests.integration.orders.conftest import OrderSync, create_tables, run_job
from tests.integration.orders.streams import stream_batch
from tts_local.ops_show_cli import run_audit, run_show
from tts_sync.audit.dynamo_store import DynamoAuditLog, DynamoAuditReader
from tts_sync.audit.runtime import AuditDependencies
from tts_sync.audit.runtime import override_dependencies as override_audit
from tts_sync.ops.target import StackTarget
from tts_sync.orders.runtime import override_dependencies
from tts_sync.shops.dynamo_store import DynamoShopStore
from tts_sync.shops.models import Shop, ShopTokens

RED = {
    "sku_id": "1729582718312381001",
    "product_id": "1729582718312380001",
    "seller_sku": "MUG-RED",
    "price": "14.00",
}
RETENTION_DAYS = 90
ACCESS_TOKEN, REFRESH_TOKEN = "TTP_secret_access_0123456789", "TTP_secret_refresh_9876543210"


class InProcessTarget(StackTarget):
    """A stack whose functions are the console jobs' entry logic, run here."""

    def invoker(self, logical_id: str) -> Callable[[dict[str, Any]], Mapping[str, Any]]:
        assert logical_id == "OrderSyncFunction", logical_id
        return run_job


@pytest.fixture
def audited(dynamo_sync: OrderSync, jobs_env: None) -> Iterator[OrderSync]:
    sync = dynamo_sync
    dynamodb = sync.dynamodb  # type: ignore[attr-defined]
    tables = create_tables(dynamodb, "AuditTable", "ShopsTable")
    log = DynamoAuditLog(
        dynamodb, tables["AuditTable"], retention_seconds=RETENTION_DAYS * 86_400, clock=time.time
    )
    override_audit(
        AuditDependencies(log=log, reader=DynamoAuditReader(dynamodb, tables["AuditTable"]))
    )
    shops = DynamoShopStore(dynamodb, tables["ShopsTable"])
    sync.dependencies = replace(
        sync.dependencies, sync=replace(sync.dependencies.sync, audit=log), shops=shops
    )
    override_dependencies(sync.dependencies)
    sync.tables.update(tables)  # type: ignore[attr-defined]
    yield sync
    override_audit(None)


def _webhooks(sync: OrderSync, order_id: str) -> list[dict[str, Any]]:
    return [n.envelope() for n in sync.sandbox.notifications_for(order_id)]


def _audit_items(sync: OrderSync) -> list[dict[str, Any]]:
    return sync.dynamodb.scan(TableName=sync.tables["AuditTable"])["Items"]  # type: ignore[attr-defined]


def _buyer_values(sync: OrderSync, order_id: str) -> list[str]:
    stored = sync.store.get(sync.shop_id, order_id)
    address = stored.record.buyer.recipient_address
    assert address is not None and address.name  # the seeded buyer is there to be looked for
    return [v for v in (address.name, address.phone_number, address.full_address) if v]


def test_an_orders_trail_and_state_through_dynamodb_and_the_cli(
    audited: OrderSync, capsys: pytest.CaptureFixture[str]
) -> None:
    sync = audited
    order = sync.sandbox.place_order(sync.shop_id, [RED | {"quantity": 2}], notify=False)
    batches = [stream_batch(_webhooks(sync, order.id))]
    assert sync.consume(batches[0]) == {"batchItemFailures": []}
    for status in ("AWAITING_SHIPMENT", "CANCELLED"):
        sync.sandbox.advance_order(order.id, status, notify=False)
        delivered = sum(len(batch["Records"]) for batch in batches)
        batches.append(stream_batch(_webhooks(sync, order.id)[delivered:]))
        assert sync.consume(batches[-1]) == {"batchItemFailures": []}

    trail = run_job({"job": "audit", "order_id": order.id})
    kinds = [entry["kind"] for entry in trail["entries"]]
    notified = [n["tts_notification_id"] for n in _webhooks(sync, order.id)]
    received = [
        e["detail"]["notification_id"] for e in trail["entries"] if e["kind"] == "webhook_received"
    ]
    assert received == notified  # every webhook delivered, in the order they came
    states = [e["reason"] for e in trail["entries"] if e["kind"] == "state_change"]
    assert states == [
        "(new) -> ON_HOLD",
        "ON_HOLD -> AWAITING_SHIPMENT",
        "AWAITING_SHIPMENT -> CANCELLED",
    ]
    assert kinds[-1] == "outbound_event" and "Order Cancelled" in trail["entries"][-1]["reason"]
    assert trail["shop_ids"] == [sync.shop_id]

    items = _audit_items(sync)
    expires = {int(item["expires_at"]["N"]) for item in items}
    assert all(abs(e - (time.time() + RETENTION_DAYS * 86_400)) < 120 for e in expires)
    for batch in batches:  # the stream's redelivery, or an ops replay
        assert sync.consume(batch) == {"batchItemFailures": []}
    assert len(_audit_items(sync)) == len(items)

    shown = run_job({"job": "order", "order_id": order.id})  # the shop comes from the trail
    view = shown["order"]
    assert (view["status"], view["shop_id"]) == ("CANCELLED", sync.shop_id)
    assert view["units_per_sku"] == {RED["sku_id"]: 2}
    assert view["reservations"] == [
        {
            "sku_id": RED["sku_id"],
            "state": "released",
            "units": 0,
            "ordered_units": 2,
            "order_status": "CANCELLED",
        }
    ]

    target = InProcessTarget("test", {})
    assert run_audit(target, argparse.Namespace(order=order.id, shop=None, json=False)) == 0
    assert run_show(target, argparse.Namespace(order=order.id, shop=None, sku=None)) == 0
    printed = capsys.readouterr().out
    assert "AWAITING_SHIPMENT -> CANCELLED" in printed and '"status": "CANCELLED"' in printed
    everything = printed + json.dumps(items) + json.dumps(trail) + json.dumps(shown)
    for value in _buyer_values(sync, order.id):
        assert value not in everything


def test_show_shop_gives_token_expiry_never_tokens(audited: OrderSync) -> None:
    sync = audited
    now = int(time.time())
    sync.dependencies.shops.save_authorization(
        Shop(
            shop_id=sync.shop_id,
            cipher="cipher",
            name="Demo shop",
            tokens=ShopTokens.model_validate(
                {
                    "access_token": ACCESS_TOKEN,
                    "access_token_expires_at": now + 3600,
                    "refresh_token": REFRESH_TOKEN,
                    "refresh_token_expires_at": now + 86_400,
                }
            ),
            authorized_at=now - 60,
            updated_at=now - 60,
        )
    )
    answer = run_job({"job": "shop", "shop_id": sync.shop_id})
    tokens = answer["shop"]["tokens"]
    assert 3500 < tokens["access_token_seconds_left"] <= 3600
    assert 86_300 < tokens["refresh_token_seconds_left"] <= 86_400
    assert answer["shop"]["status"] == "active" and answer["shop"]["usable"] is True
    text = json.dumps(answer)
    assert ACCESS_TOKEN not in text and REFRESH_TOKEN not in text


def test_unknown_orders_and_shops_are_said_so(audited: OrderSync) -> None:
    from tts_sync.orders.jobs import InvalidOrderSyncEventError

    trail = run_job({"job": "audit", "order_id": "576000000000000000"})
    assert trail["entries"] == [] and "no audit entries" in trail["text"]
    with pytest.raises(InvalidOrderSyncEventError, match="give its shop_id"):
        run_job({"job": "order", "order_id": "576000000000000000"})
    with pytest.raises(InvalidOrderSyncEventError, match="no shop"):
        run_job({"job": "shop", "shop_id": "7000000000000000000"})
    with pytest.raises(InvalidOrderSyncEventError, match="order_id"):
        run_job({"job": "audit", "order_id": "../etc"})
