"""The demo's privacy act: a buyer deletion request for one of the demo shop's orders goes on
PrivacyDeletionQueue; PrivacyDeletionFunction erases it through the local stack's SQS mapping;
the summary shows the receipt (counts per store, times) and the erased order. An invalid
request shows its rejected receipt. Buyer values are never printed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

WAIT_SECONDS = 60


def run_privacy_act(
    ready: dict[str, Any], shop_id: str, dynamodb: Any, sqs: Any, out: Callable[[str], None]
) -> int:
    """Returns the number of unexpected results."""
    resources = ready["resources"]
    if "PrivacyDeletionQueue" not in resources or "OrdersTable" not in resources:
        return 0
    order = _an_order_with_a_buyer(dynamodb, resources["OrdersTable"], shop_id)
    if order is None:
        out("\nPrivacy: no stored order with buyer data to erase")
        return 1
    order_id, buyer_user_id = order
    suffix = uuid.uuid4().hex[:6]
    request_id = f"dsr-demo-{suffix}"
    request: dict[str, Any] = {
        "request_id": request_id,
        "shop_id": shop_id,
        "scope": "buyer",
        "order_ids": [order_id],
        "requested_at": datetime.now(UTC).isoformat(),
        "requester": "demo",
    }
    if buyer_user_id:
        request["buyer_user_id"] = buyer_user_id
    invalid_id = f"dsr-demo-invalid-{suffix}"
    invalid = {**request, "request_id": invalid_id, "order_ids": [123]}
    queue = resources["PrivacyDeletionQueue"]
    for body in (request, invalid):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))
    out(f"\nPrivacy: a buyer deletion request for order {order_id} sent to PrivacyDeletionQueue")
    table = resources["PrivacyRequestsTable"]
    receipt = _wait_for_receipt(dynamodb, table, request_id, "completed")
    rejected = _wait_for_receipt(dynamodb, table, invalid_id, "rejected")
    failures = 0
    if receipt is None:
        out(f"  <-- MISMATCH: no completed receipt for {request_id} after {WAIT_SECONDS} s")
        failures += 1
    else:
        erased = ", ".join(f"{k} {v}" for k, v in sorted(receipt["erased"].items()))
        out(f"  receipt {request_id}: completed; erased {erased}")
        out(f"    received {receipt['received_at']}, completed {receipt['completed_at']}")
        buyer = _buyer(dynamodb, resources["OrdersTable"], shop_id, order_id)
        left = sorted(k for k, v in buyer.items() if v not in ("", None, []) and k != "erased_at")
        pseudonymised = str(buyer.get("user_id", "")).startswith("psn_") or not buyer_user_id
        if left != (["user_id"] if buyer_user_id else []) or not pseudonymised:
            out(f"  <-- MISMATCH: order {order_id} still holds buyer fields {left}")
            failures += 1
        else:
            out(
                f"  order {order_id}: buyer data erased, user id pseudonymised; payment and "
                "line items kept"
            )
    if rejected is None:
        out(f"  <-- MISMATCH: no rejected receipt for {invalid_id}")
        failures += 1
    else:
        out(f"  receipt {invalid_id}: rejected ({rejected['reason']})")
    return failures


def _an_order_with_a_buyer(dynamodb: Any, table: str, shop_id: str) -> tuple[str, str] | None:
    page = dynamodb.query(
        TableName=table,
        KeyConditionExpression="shop_id = :shop",
        ExpressionAttributeValues={":shop": {"S": shop_id}},
        ProjectionExpression="order_id, buyer",
        ConsistentRead=True,
    )
    for item in page["Items"]:
        buyer = item.get("buyer", {}).get("M", {})
        if buyer.get("erased_at", {}).get("N"):
            continue
        user_id = buyer.get("user_id", {}).get("S", "")
        return item["order_id"]["S"], user_id
    return None


def _buyer(dynamodb: Any, table: str, shop_id: str, order_id: str) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    item = dynamodb.get_item(
        TableName=table,
        Key={"shop_id": {"S": shop_id}, "order_id": {"S": order_id}},
        ConsistentRead=True,
    )["Item"]
    value: dict[str, Any] = TypeDeserializer().deserialize(item["buyer"])
    return value


def _wait_for_receipt(
    dynamodb: Any, table: str, request_id: str, status: str
) -> dict[str, Any] | None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        item = dynamodb.get_item(
            TableName=table, Key={"pk": {"S": request_id}}, ConsistentRead=True
        ).get("Item")
        if item and item["status"]["S"] == status:
            return {
                "erased": {k: int(v["N"]) for k, v in item["erased"]["M"].items()},
                "received_at": item["received_at"]["S"],
                "completed_at": item.get("completed_at", {}).get("S", ""),
                "reason": item.get("reason", {}).get("S", ""),
            }
        time.sleep(0.5)
    return None
