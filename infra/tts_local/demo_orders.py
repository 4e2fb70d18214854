"""The demo's order-sync act: orders placed and moved in the sandbox (through its admin
routes, as any script could), their webhooks delivered duplicated and reordered with a few held
back, the Events stream consumer hydrating what arrives and the reconciliation schedule
recovering the rest; then a summary of the records, the reservations and the outbound events.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tts_local.stack_orders import (
    drain_queue,
    expected_held_units,
    held_units_in_ledger,
    stored_orders,
    wait_until,
)

RECONCILE_RULE = "OrderSyncFunctionReconcile"  # SAM names schedules <function><event>
ORDERS = 20
HOUR = 3600
RED = {"sku_id": "1729582718312381001", "product_id": "1729582718312380001", "price": "14.00"}
BLUE = {"sku_id": "1729582718312381002", "product_id": "1729582718312380001", "price": "14.00"}
TOTE = {"sku_id": "1729582718312382001", "product_id": "1729582718312380002", "price": "22.50"}
SELLER_SKUS = {
    "1729582718312381001": "MUG-RED",
    "1729582718312381002": "MUG-BLUE",
    "1729582718312382001": "TOTE-NAT",
}
# Which orders (by placement index) do what: fixed, so the demo reads the same every run.
CANCELLED_IN_HOLD = (3, 11)
HEARD_OF_ONLY_BY_POLL = (7, 16)  # every webhook of these is held back
ADDRESS_CHANGED_LATER = 5
CANCELLED_LATER = 9  # its cancellation webhook is delivered
CANCELLED_SILENTLY = 14  # its cancellation webhook is held back


@dataclass
class OrderAct:
    sandbox_url: str
    webhook_url: str
    shop_id: str
    http: httpx.Client
    now: int = field(default_factory=lambda: int(time.time()))
    order_ids: list[str] = field(default_factory=list)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)

    def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(self.sandbox_url + "/_admin" + path, json=body)
        response.raise_for_status()
        reply: dict[str, Any] = response.json()
        self.final[reply["order"]["id"]] = reply["order"]
        return reply

    def deliver(self, notifications: list[dict[str, Any]], seed: int) -> list[int]:
        """Each notification twice (byte-identical, as TikTok retries), shuffled; signed and
        POSTed by the sandbox."""
        response = self.http.post(
            self.sandbox_url + "/_admin/webhooks/deliver",
            json={
                "url": self.webhook_url,
                "notifications": notifications,
                "duplicates": 1,
                "ordering": "shuffled",
                "seed": seed,
            },
            timeout=120,
        )
        response.raise_for_status()
        return [int(delivery["status"]) for delivery in response.json()]


def run_order_act(
    ready: dict[str, Any],
    shop_id: str,
    dynamodb: Any,
    sqs: Any,
    http: httpx.Client,
    out: Callable[[str], None],
) -> int:
    """Returns the number of unexpected results."""
    resources = ready["resources"]
    if not ready.get("sandbox_url") or "OrdersTable" not in resources:
        return 0
    api_url = ready["api_url"].rstrip("/")
    act = OrderAct(ready["sandbox_url"], api_url + "/webhooks/tiktok", shop_id, http)
    orders_table = resources["OrdersTable"]
    failures = 0

    # Earlier today: 20 buyers check out 5 minutes apart; the hold ends an hour later.
    first_hours: list[dict[str, Any]] = []
    held_back: list[dict[str, Any]] = []
    start = act.now - 6 * HOUR
    for index in range(ORDERS):
        placed_at = start + index * 300
        items = [(RED, BLUE, TOTE)[index % 3]] + ([TOTE] if index % 4 == 0 else [])
        placed = act.admin(
            "/orders/place", {"shop_id": shop_id, "items": items, "notify": False, "at": placed_at}
        )
        order_id = placed["order"]["id"]
        act.order_ids.append(order_id)
        status = "CANCELLED" if index in CANCELLED_IN_HOLD else "AWAITING_SHIPMENT"
        moved_at = placed_at + (600 if status == "CANCELLED" else HOUR)
        moved = act.admin(
            f"/orders/{order_id}/advance", {"status": status, "notify": False, "at": moved_at}
        )
        sent = placed["notifications"] + moved["notifications"]
        if index in HEARD_OF_ONLY_BY_POLL:
            held_back.extend(sent)
        elif index == CANCELLED_SILENTLY:
            # Only its latest webhook: once its record shows it, no other record of it is
            # left in the stream to re-read the order after the silent cancellation.
            held_back.extend(sent[:-1])
            first_hours.append(sent[-1])
        else:
            first_hours.extend(sent)
    statuses = act.deliver(first_hours, seed=1)
    out(
        f"\nOrder sync: {ORDERS} orders placed in the sandbox 6 h ago, ON_HOLD -> "
        f"AWAITING_SHIPMENT ({len(CANCELLED_IN_HOLD)} cancelled in the hold)"
    )
    failures += _report_deliveries("  their webhooks", first_hours, held_back, statuses, out)
    heard_of = [o for i, o in enumerate(act.order_ids) if i not in HEARD_OF_ONLY_BY_POLL]
    started = time.monotonic()
    if wait_until(lambda: _as_in_sandbox(act, dynamodb, orders_table, heard_of), timeout=30):
        out(
            f"  Events stream -> EventRouterFunction: {len(heard_of)} orders stored in "
            f"{time.monotonic() - started:.1f} s (Get Order Detail, 50 orders a call)"
        )
    else:
        failures += 1
        out("  <-- MISMATCH: the orders were not stored as the sandbox has them within 30 s")

    # Half an hour ago: an address edit and a cancellation arrive; another cancellation's
    # webhook never does.
    changed = act.order_ids[ADDRESS_CHANGED_LATER]
    cancelled = act.order_ids[CANCELLED_LATER]
    silent = act.order_ids[CANCELLED_SILENTLY]
    later = act.admin(f"/orders/{changed}/address", {"notify": False, "at": act.now - 1800})[
        "notifications"
    ]
    later += act.admin(
        f"/orders/{cancelled}/advance",
        {"status": "CANCELLED", "notify": False, "at": act.now - 1700},
    )["notifications"]
    silently = act.admin(
        f"/orders/{silent}/advance",
        {"status": "CANCELLED", "notify": False, "at": act.now - 1600},
    )["notifications"]
    statuses = act.deliver(later, seed=2)
    out(f"  later: the buyer of {changed} edits the address, {cancelled} and {silent} cancel")
    failures += _report_deliveries("  their webhooks", later, silently, statuses, out)
    if not wait_until(
        lambda: (
            _as_in_sandbox(act, dynamodb, orders_table, [cancelled])
            and _address_updated(dynamodb, orders_table, shop_id, changed)
        ),
        timeout=30,
    ):
        failures += 1
        out("  <-- MISMATCH: the address edit or the cancellation was not stored within 30 s")

    # What the poll must recover: the orders not stored in their sandbox state. Normally the
    # two never notified and the silent cancellation; a stream retry behind an earlier failing
    # record (the burst's samples name orders this sandbox never had) re-reads later records'
    # orders too, and may have picked up the cancellation already.
    stored = stored_orders(dynamodb, orders_table, shop_id)
    expected_missed = sum(
        1
        for order_id in act.order_ids
        if order_id not in stored
        or (stored[order_id].status, stored[order_id].update_time)
        != (act.final[order_id]["status"], act.final[order_id]["update_time"])
    )
    fired = http.post(f"{api_url}/_local/schedules/{RECONCILE_RULE}", timeout=120).json()
    result = fired["results"][0]
    summary = result.get("payload") or {}
    out(
        f"  reconciliation ({RECONCILE_RULE}, order search by update_time): "
        f"{summary.get('orders_seen')} orders seen, {summary.get('missed_by_webhooks')} "
        f"missed by webhooks and recovered (records behind the sandbox: {expected_missed})"
    )
    if not result.get("ok") or summary.get("missed_by_webhooks") != expected_missed:
        failures += 1
        out(f"  <-- MISMATCH: reconciliation answered {result}")

    failures += _print_orders(act, dynamodb, orders_table, out)
    failures += _print_reservations(act, dynamodb, resources["ReservationsTable"], out)
    failures += _print_outbound_events(act, dynamodb, sqs, ready, out)
    return failures


def _report_deliveries(
    label: str,
    sent: list[dict[str, Any]],
    held: list[dict[str, Any]],
    statuses: list[int],
    out: Callable[[str], None],
) -> int:
    answers = ", ".join(f"{count}x {status}" for status, count in sorted(Counter(statuses).items()))
    out(
        f"{label}: {len(sent)} delivered twice each in shuffled order ({answers}), "
        f"{len(held)} held back (never sent)"
    )
    if statuses != [200] * len(statuses) or len(statuses) != 2 * len(sent):
        out("  <-- MISMATCH: every delivery should have been acknowledged with 200")
        return 1
    return 0


def _as_in_sandbox(act: OrderAct, dynamodb: Any, table: str, order_ids: list[str]) -> bool:
    stored = stored_orders(dynamodb, table, act.shop_id)
    return all(
        order_id in stored
        and (stored[order_id].status, stored[order_id].update_time)
        == (act.final[order_id]["status"], act.final[order_id]["update_time"])
        for order_id in order_ids
    )


def _address_updated(dynamodb: Any, table: str, shop_id: str, order_id: str) -> bool:
    item = dynamodb.get_item(
        TableName=table,
        Key={"shop_id": {"S": shop_id}, "order_id": {"S": order_id}},
        ProjectionExpression="has_updated_recipient_address",
        ConsistentRead=True,
    ).get("Item")
    return bool(item and item["has_updated_recipient_address"].get("BOOL"))


def _print_orders(act: OrderAct, dynamodb: Any, table: str, out: Callable[[str], None]) -> int:
    stored = stored_orders(dynamodb, table, act.shop_id)
    out(f"\n  {'order':<20} {'status':<18} {'update_time':<12} source     sandbox")
    failures = 0
    for order_id in act.order_ids:
        record, truth = stored.get(order_id), act.final[order_id]
        agrees = record is not None and (record.status, record.update_time) == (
            truth["status"],
            truth["update_time"],
        )
        failures += not agrees
        status = record.status if record else "(missing)"
        when = _ago(act.now, record.update_time) if record else ""
        source = record.source if record else ""
        verdict = "same" if agrees else f"<-- MISMATCH: sandbox says {truth['status']}"
        out(f"  {order_id:<20} {status:<18} {when:<12} {source:<10} {verdict}")
    return failures


def _print_reservations(
    act: OrderAct, dynamodb: Any, table: str, out: Callable[[str], None]
) -> int:
    ledger = held_units_in_ledger(dynamodb, table, act.shop_id, set(act.order_ids))
    expected = expected_held_units(act.final[o] for o in act.order_ids)
    out(f"\n  Reservations in {table} (units these orders hold):")
    for sku in sorted(set(ledger) | set(expected)):
        flag = "" if ledger.get(sku) == expected.get(sku) else "  <-- MISMATCH"
        out(
            f"    {SELLER_SKUS.get(sku, sku):<9} sku {sku}  held {ledger.get(sku, 0):>3}  "
            f"(open orders in the sandbox: {expected.get(sku, 0)}){flag}"
        )
    return int(ledger != expected)


def _print_outbound_events(
    act: OrderAct, dynamodb: Any, sqs: Any, ready: dict[str, Any], out: Callable[[str], None]
) -> int:
    resources = ready["resources"]
    queue_url = resources["OutboundEventsQueue"]
    # Events go out right after each write: once no record holds any, all are on the queue.
    wait_until(
        lambda: (
            not any(
                v.has_pending_events
                for v in stored_orders(dynamodb, resources["OrdersTable"], act.shop_id).values()
            )
        ),
        timeout=10,
    )
    ours = set(act.order_ids)
    bodies = [
        body
        for body in drain_queue(sqs, queue_url)
        if body.get("detail", {}).get("order_id") in ours
    ]
    event_ids = [body["detail"]["event_id"] for body in bodies]
    duplicates = len(event_ids) - len(set(event_ids))
    per_type = Counter(body["detail-type"] for body in bodies)
    out(
        f"\n  Outbound events on OutboundEventsQueue (via the EventBridge bus): {len(bodies)}, "
        f"{duplicates} duplicate event_id"
    )
    for detail_type, count in sorted(per_type.items()):
        out(f"    {detail_type:<24} {count:>3}")
    created = Counter(
        body["detail"]["order_id"] for body in bodies if body["detail-type"] == "Order Created"
    )
    if duplicates or created != dict.fromkeys(act.order_ids, 1):
        out("  <-- MISMATCH: expected exactly one Order Created per order and no duplicates")
        return 1
    return 0


def _ago(now: int, then: int) -> str:
    minutes = max(0, now - then) // 60
    return f"-{minutes // 60}h{minutes % 60:02d}m"
