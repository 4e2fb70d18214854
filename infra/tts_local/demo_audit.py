"""The demo's last act: one order's audit trail, as `tts-sync ops audit --local --order ID`
prints it (through OrderSyncFunction's audit job): its webhooks, hydrations, status changes,
reservations, outbound events and the stock exports of its SKUs, in order, no PII."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tts_sync.ops.target import TargetError, local_target

# The richest life first: an order cancelled after it was ready to ship, else any.
PREFERRED_STATUSES = ("CANCELLED", "AWAITING_SHIPMENT", "ON_HOLD")
CANDIDATES = 5


def run_audit_act(
    ready: dict[str, Any], shop_id: str, dynamodb: Any, out: Callable[[str], None]
) -> int:
    """Returns the number of unexpected results."""
    resources = ready["resources"]
    if "AuditTable" not in resources or "OrdersTable" not in resources:
        return 0
    candidates = _orders(dynamodb, resources["OrdersTable"], shop_id)
    if not candidates:
        out("\nAudit trail: no stored order to show")
        return 1
    try:
        invoke = local_target(ready["api_url"]).invoker("OrderSyncFunction")
        # The first with its webhooks on the trail (the poll recovered some of the orders).
        for order in candidates[:CANDIDATES]:
            order_id = order["order_id"]["S"]
            answer = invoke({"job": "audit", "order_id": order_id, "shop_id": shop_id})
            if any(e["kind"] == "webhook_received" for e in answer.get("entries", [])):
                break
    except TargetError as error:
        out(f"\nAudit trail: <-- MISMATCH: {error}")
        return 1
    out(f"\nAudit trail (tts-sync ops audit --local --order {order_id}):")
    for line in str(answer.get("text", "")).splitlines():
        out(f"  {line}")
    kinds = {entry["kind"] for entry in answer.get("entries", [])}
    failures = 0
    for expected in ("hydration", "state_change", "reservation_change", "outbound_event"):
        if expected not in kinds:
            failures += 1
            out(f"  <-- MISMATCH: no {expected} entry on the trail")
    text = json.dumps(answer)
    if any(value in text for value in _buyer_values(order)):
        failures += 1
        out("  <-- MISMATCH: a buyer value appears on the audit trail")
    return failures


def _orders(dynamodb: Any, table: str, shop_id: str) -> list[dict[str, Any]]:
    """The shop's orders, the richest lives first (by status, then revisions)."""
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="shop_id = :shop",
        ExpressionAttributeValues={":shop": {"S": shop_id}},
    ):
        items += page.get("Items", [])

    def richness(item: dict[str, Any]) -> tuple[int, int]:
        status = item.get("status", {}).get("S", "")
        rank = PREFERRED_STATUSES.index(status) if status in PREFERRED_STATUSES else 9
        return rank, -int(item.get("revision", {}).get("N", "0"))

    return sorted(items, key=richness)


def _buyer_values(order: dict[str, Any]) -> list[str]:
    """Every non-trivial string in the order's `buyer` attribute (names, phone, address...)."""
    values: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "S" and isinstance(inner, str):
                    if len(inner) >= 4:
                        values.append(inner)
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(order.get("buyer", {}))
    return values
