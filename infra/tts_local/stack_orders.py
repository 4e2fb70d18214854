"""Reading order sync's results on a running local stack, to compare with what TikTok (the
sandbox) says: the OrdersTable records, the units ReservationsTable holds per SKU, the events
that reached OutboundEventsQueue. Used by the demo, the end-to-end tests and the benchmarks.

Everything here reads over the wire (boto3 against the stack's moto); nothing imports the
product's stores, so a bug in them cannot hide itself.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

# The statuses whose units TikTok counts as sold but not yet shipped.
HOLDING_STATUSES = frozenset({"ON_HOLD", "AWAITING_SHIPMENT"})
_DESERIALIZER = TypeDeserializer()


@dataclass(frozen=True)
class StoredOrderView:
    order_id: str
    status: str
    update_time: int
    source: str  # webhook | poll | backfill
    has_pending_events: bool


def scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored_orders(dynamodb: Any, orders_table: str, shop_id: str) -> dict[str, StoredOrderView]:
    views = {}
    request: dict[str, Any] = {
        "TableName": orders_table,
        "KeyConditionExpression": "shop_id = :shop",
        "ExpressionAttributeValues": {":shop": {"S": shop_id}},
        "ProjectionExpression": "order_id, #s, update_time, #src, pending_events",
        "ExpressionAttributeNames": {"#s": "status", "#src": "source"},
        "ConsistentRead": True,
    }
    while True:
        page = dynamodb.query(**request)
        for item in page["Items"]:
            views[item["order_id"]["S"]] = StoredOrderView(
                order_id=item["order_id"]["S"],
                status=item["status"]["S"],
                update_time=int(item["update_time"]["N"]),
                source=item["source"]["S"],
                has_pending_events=bool(item.get("pending_events", {}).get("M")),
            )
        if "LastEvaluatedKey" not in page:
            return views
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def held_units_in_ledger(
    dynamodb: Any,
    reservations_table: str,
    shop_id: str,
    order_ids: Collection[str] | None = None,
) -> dict[str, int]:
    """Units the ReservationsTable holds per SKU (held reservations only; of `order_ids` only
    when given)."""
    held: Counter[str] = Counter()
    for item in scan(dynamodb, reservations_table):
        if order_ids is not None and item["order_id"]["S"] not in order_ids:
            continue
        if item["shop_id"]["S"] == shop_id and item["state"]["S"] == "held":
            held[item["sku_id"]["S"]] += int(item["units"]["N"])
    return {sku: units for sku, units in sorted(held.items()) if units}


def expected_held_units(orders: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Units TikTok's order states hold per SKU (orders as the Order API shapes them): every
    line of an ON_HOLD or AWAITING_SHIPMENT order is one unit; a bundle line holds each
    component times its sku_count."""
    held: Counter[str] = Counter()
    for order in orders:
        if order["status"] not in HOLDING_STATUSES:
            continue
        for line in order["line_items"]:
            components = line.get("combined_listing_skus") or []
            if components:
                for component in components:
                    held[component["sku_id"]] += int(component["sku_count"])
            else:
                held[line["sku_id"]] += 1
    return {sku: units for sku, units in sorted(held.items()) if units}


def drain_queue(sqs: Any, queue_url: str, *, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Every message body on the queue (JSON), deleted as read, until a receive comes back
    empty; fails at the deadline if the queue never runs dry."""
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = reply.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)
            ],
        )
    raise TimeoutError(f"{queue_url} still had messages after {timeout} s ({len(bodies)} read)")


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    """Polls `condition` until it holds (True) or the deadline passes (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
