"""The demo's tracking act: shipments go on TrackingUploadQueue (one duplicated, one split in
two packages, an unknown carrier, a cancelled order, an unreadable body); TrackingUploadFunction
uploads them to the sandbox through the local stack's SQS mapping; the summary shows what
TikTok now shows per order and what was refused, and why."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tts_local.stack_orders import wait_until

WAIT_SECONDS = 60
RED = {"sku_id": "1729582718312381001", "product_id": "1729582718312380001", "price": "14.00"}
TOTE = {"sku_id": "1729582718312382001", "product_id": "1729582718312380002", "price": "22.50"}


def run_tracking_act(
    ready: dict[str, Any],
    shop_id: str,
    dynamodb: Any,
    sqs: Any,
    http: httpx.Client,
    out: Callable[[str], None],
) -> int:
    """Returns the number of unexpected results."""
    resources = ready["resources"]
    if not ready.get("sandbox_url") or "TrackingUploadQueue" not in resources:
        return 0
    sandbox, api = ready["sandbox_url"] + "/_admin", ready["api_url"].rstrip("/")
    built = http.post(
        f"{api}/_local/functions/TrackingUploadFunction/invoke",
        json={"job": "carriers_build", "shop_id": shop_id},
        timeout=60,
    ).json()
    stamp = int(time.time())

    def place(items: list[dict[str, Any]], split: list[list[int]] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"shop_id": shop_id, "items": items, "on_hold": False}
        body["notify"] = False
        if split:
            body["package_split"] = split
        reply = http.post(f"{sandbox}/orders/place", json=body)
        reply.raise_for_status()
        order: dict[str, Any] = reply.json()["order"]
        return order

    whole, split = place([RED, TOTE]), place([RED, TOTE], [[0], [1]])
    unmapped, cancelled = place([RED]), place([TOTE])
    http.post(
        f"{sandbox}/orders/{cancelled['id']}/advance", json={"status": "CANCELLED", "notify": False}
    ).raise_for_status()
    lines = [line["id"] for line in split["line_items"]]
    now = datetime.now(UTC).isoformat()

    def shipment(order: dict[str, Any], tracking: str, carrier: str, **extra: Any) -> str:
        body = {"shop_id": shop_id, "order_id": order["id"], "carrier": carrier}
        return json.dumps({**body, "tracking_number": tracking, "shipped_at": now, **extra})

    bodies = [
        shipment(whole, f"1ZDEMO{stamp}", "UPS"),
        shipment(whole, f"1ZDEMO{stamp}", "UPS"),  # the same shipment again
        shipment(split, f"9400DEMO{stamp}A", "usps", line_item_ids=lines[:1]),
        shipment(split, f"9400DEMO{stamp}B", "USPS", line_item_ids=lines[1:]),
        shipment(unmapped, f"ACME{stamp}", "Acme Freight"),
        shipment(cancelled, f"1ZCANCEL{stamp}", "UPS"),
        "{not json",
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=resources["TrackingUploadQueue"], MessageBody=body)
    providers = sum(
        len(o["providers"]) for o in built.get("payload", {}).get("delivery_options", [])
    )
    out(
        f"\nTracking uploads: {len(bodies)} shipments sent to TrackingUploadQueue (one twice, a "
        f"split order in two, an unknown carrier, a cancelled order, an unreadable body); "
        f"carrier map built: {providers} providers"
    )
    from tts_sync.fulfilment.dynamo_store import DynamoFulfilmentStore

    store = DynamoFulfilmentStore(dynamodb, resources["FulfilmentTable"])
    shipped = [whole["id"], split["id"]]
    refused = {unmapped["id"]: "unknown_carrier", cancelled["id"]: "order_cancelled"}

    def done() -> bool:
        orders = _sandbox_orders(http, sandbox)
        codes = {r.order_id: r.code.value for r in store.refusals(shop_id)}
        all_shipped = all(orders[o]["status"] == "IN_TRANSIT" for o in shipped)
        return all_shipped and all(codes.get(o) == c for o, c in refused.items())

    failures = 0
    if not wait_until(done, timeout=WAIT_SECONDS):
        failures += 1
        out(f"  <-- MISMATCH: TikTok does not show every shipment after {WAIT_SECONDS} s")
    orders = _sandbox_orders(http, sandbox)
    state = http.get(f"{sandbox}/state").json()
    names = {p["package_id"]: p["shipping_provider_name"] for p in state["packages"]}
    out("  what TikTok now shows:")
    for order_id in [*shipped, *refused]:
        order = orders[order_id]
        shown = ", ".join(
            f"line {line['id'][-4:]}: {names.get(line['package_id'], '-') or '-'} "
            f"{line['tracking_number'] or '(no tracking)'}"
            for line in order["line_items"]
        )
        out(f"    order {order_id} {order['status']:<17} {shown}")
    writes = [
        r
        for r in http.get(f"{sandbox}/requests", params={"path_prefix": "/fulfillment/"}).json()
        if r["method"] == "POST" and any(o in r["path"] for o in shipped + list(refused))
    ]
    if len(writes) != 3:
        failures += 1
        out(f"  <-- MISMATCH: {len(writes)} fulfilment writes to TikTok, expected 3 (one each)")
    else:
        out("  3 fulfilment writes for 3 shipments (the duplicate cost no call)")
    out("  refused, and why:")
    for refusal in [*store.refusals(shop_id), *store.refusals("")]:
        if refusal.order_id and refusal.order_id not in refused:
            continue
        subject = f"order {refusal.order_id}" if refusal.order_id else "message"
        out(f"    {subject}: {refusal.code.value}: {refusal.reason[:150]}")
    return failures


def _sandbox_orders(http: httpx.Client, sandbox: str) -> dict[str, Any]:
    state = http.get(f"{sandbox}/state").json()
    return {o["id"]: o for o in state["orders"]}
