"""`tts-sync local --demo`: a realistic burst of signed webhooks against the local stack, then a
readable summary of what was stored and what was refused."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

import boto3
import httpx

from tts_local.demo_audit import run_audit_act
from tts_local.demo_orders import run_order_act
from tts_local.demo_privacy import run_privacy_act
from tts_local.demo_stock import run_stock_act
from tts_local.demo_tracking import run_tracking_act
from tts_local.webhook_sender import post_signed
from tts_sync.shops.dynamo_store import LEASE_KEY_PREFIX, shop_from_item
from tts_sync.webhooks.envelope import InvalidPayloadError, parse_envelope

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "webhooks"
WEBHOOK_PATH = "/webhooks/tiktok"
# Sent last, on its own: it deletes the shop's tokens, which everything before needs.
DEAUTHORIZATION_SAMPLE = "seller_deauthorization"
# What the orders the samples name hold (the demo shop's red mug).
SAMPLE_ITEM = {"sku_id": "1729582718312381001", "product_id": "1729582718312380001", "price": "14"}


@dataclass
class Delivery:
    label: str
    body: bytes
    expected_status: int
    authorization: str | None = None  # None: sign correctly
    stored: bool = False  # must this delivery's event end up in the Events table?
    status: int | None = None

    @property
    def event_key(self) -> str | None:
        try:
            return parse_envelope(self.body).event_key
        except InvalidPayloadError:
            return None


def _fresh(sample: str, **changes: Any) -> bytes:
    document = json.loads((SAMPLES / f"{sample}.json").read_text())
    document["timestamp"] = int(time.time())
    document.update(changes)
    return json.dumps(document, separators=(",", ":")).encode()


def build_burst() -> list[Delivery]:
    samples = sorted(
        path.stem for path in SAMPLES.glob("*.json") if path.stem != DEAUTHORIZATION_SAMPLE
    )
    burst = [Delivery(f"{name}", _fresh(name), 200, stored=True) for name in samples]
    first = burst[0].body
    burst += [
        Delivery("duplicate (TikTok retry, same bytes)", first, 200),
        Delivery("duplicate again", first, 200),
        Delivery(
            "bad signature",
            _fresh("order_status_change", tts_notification_id="forged"),
            401,
            "0" * 64,
        ),
        Delivery("'Bearer' authorization", _fresh("order_on_hold"), 401, "Bearer abc"),
        Delivery("no authorization", _fresh("order_cancelled"), 401, ""),
        Delivery("signed but not an envelope", b'{"type": 1, "data": "?"}', 200),
        Delivery(
            "stale replay (3 days old)",
            _fresh(
                "order_status_change",
                tts_notification_id="replay",
                timestamp=int(time.time()) - 3 * 86400,
            ),
            200,
        ),
        Delivery("oversized body (300 KiB)", b'{"pad": "' + b"x" * 300 * 1024 + b'"}', 413),
    ]
    return burst


def run_demo(
    ready: dict[str, Any], app_key: str, app_secret: str, out: Callable[[str], None] = print
) -> int:
    """Sends the burst, prints a summary; 0 when every delivery got the expected answer."""
    url = ready["api_url"].rstrip("/") + WEBHOOK_PATH
    dynamodb = boto3.client("dynamodb", endpoint_url=ready["aws_endpoint_url"])
    with httpx.Client(timeout=10) as client:
        failures = connect_sandbox_shop(ready, client, dynamodb, out)
        seed_sample_orders(ready, client)
        # Built after the consent: a webhook older than the shop's authorization is stale.
        burst = build_burst()
        for delivery in burst:
            delivery.status = post_signed(
                url,
                delivery.body,
                app_key,
                app_secret,
                client=client,
                authorization=delivery.authorization,
            ).status_code
        # A concurrent burst of one notification: exactly one must be stored.
        racer = _fresh("package_update", tts_notification_id="concurrent-duplicate")
        with ThreadPoolExecutor(max_workers=4) as pool:
            racing = list(
                pool.map(
                    lambda _: (
                        post_signed(url, racer, app_key, app_secret, client=client).status_code
                    ),
                    range(8),
                )
            )

    resources = ready["resources"]
    # Judge only this demo's own events: the stack may already hold others.
    keys = [(d, d.event_key) for d in burst]
    expected = {key for d, key in keys if d.stored and key} | {parse_envelope(racer).event_key}
    forbidden = {key for d, key in keys if not d.stored and key} - expected
    events = [
        item
        for item in _scan(dynamodb, resources["EventsTable"])
        if item["pk"]["S"] in expected | forbidden
    ]
    bad_body_hashes = {
        f"webhook:{sha256(d.body).hexdigest()}"
        for d in burst
        if not d.event_key and d.expected_status == 200  # signed, acknowledged, unusable
    }
    quarantined = [
        item
        for item in _scan(dynamodb, resources["QuarantineTable"])
        if item["pk"]["S"] in bad_body_hashes
    ]

    out("")
    out(f"Demo: {len(burst) + len(racing)} webhook deliveries to {url}")
    out(f"  {'delivery':<44} {'status':>6}  expected")
    for delivery in burst:
        ok = delivery.status == delivery.expected_status
        failures += not ok
        flag = "" if ok else "  <-- MISMATCH"
        out(f"  {delivery.label:<44} {delivery.status!s:>6}  {delivery.expected_status}{flag}")
    racing_ok = racing == [200] * len(racing)
    failures += not racing_ok
    racing_status = "200x8" if racing_ok else str(racing)
    out(f"  {'8 concurrent copies of one notification':<44} {racing_status:>6}  200x8")

    out(f"\nStored in {resources['EventsTable']} ({len(events)} events, one per notification):")
    for item in sorted(events, key=lambda i: i["received_at"]["S"]):
        data = json.loads(item["payload"]["S"]).get("data", {})
        subject = " ".join(
            str(value)
            for value in (
                data.get("order_id") or (data.get("package_list") or [{}])[0].get("package_id"),
                data.get("order_status") or data.get("sc_type") or data.get("message"),
            )
            if value
        )
        kind, shop, key = item["event_type_name"]["S"], item["shop_id"]["S"], item["pk"]["S"]
        out(f"  {kind:<34} shop {shop}  {subject[:44]:<44} key {key[:28]}")
    out(
        f"\nQuarantined in {resources['QuarantineTable']} "
        f"({len(quarantined)}; kept with the reason, body not shown):"
    )
    for item in quarantined:
        out(f"  {item['size_bytes']['N']:>6} bytes  {item['reason']['S']}")

    stored_keys = {item["pk"]["S"] for item in events}
    for missing in sorted(expected - stored_keys):
        failures += 1
        out(f"  <-- MISMATCH: event {missing} was acknowledged but not stored")
    for leaked in sorted(forbidden & stored_keys):
        failures += 1
        out(f"  <-- MISMATCH: event {leaked} should have been refused or dropped")
    if len(quarantined) != len(bad_body_hashes):
        failures += 1
        out("  <-- MISMATCH: the signed non-envelope body was not quarantined")
    with httpx.Client(timeout=30) as client:
        shop_id = json.loads((SAMPLES / f"{DEAUTHORIZATION_SAMPLE}.json").read_text())["shop_id"]
        sqs = boto3.client("sqs", endpoint_url=ready["aws_endpoint_url"])
        failures += run_order_act(ready, shop_id, dynamodb, sqs, client, out)
        failures += run_tracking_act(ready, shop_id, dynamodb, sqs, client, out)
        failures += run_privacy_act(ready, shop_id, dynamodb, sqs, out)
        failures += run_stock_act(ready, shop_id, sqs, client, out)
        failures += follow_deauthorization(ready, dynamodb, out, url, app_key, app_secret, client)
        failures += run_audit_act(ready, shop_id, dynamodb, out)
    refused = sum(1 for d in burst if d.status in (401, 413))
    acknowledged = sum(1 for d in burst if d.status == 200) + len(racing)
    verdict = "all as expected" if not failures else f"{failures} unexpected result(s)"
    out(
        f"\nSummary: {acknowledged} acknowledged (200), {len(events)} stored once each, "
        f"{len(quarantined)} quarantined, {refused} refused (401/413): {verdict}."
    )
    return 0 if not failures else 1


def connect_sandbox_shop(
    ready: dict[str, Any], client: httpx.Client, dynamodb: Any, out: Callable[[str], None]
) -> int:
    """Connects the sandbox's demo shop the way a seller would: /oauth/tiktok/start -> the
    sandbox's consent page -> /oauth/tiktok/callback. Returns the number of failures."""
    if not ready.get("sandbox_url") or "ShopsTable" not in ready["resources"]:
        return 0
    start = ready["api_url"].rstrip("/") + "/oauth/tiktok/start"
    response = client.get(start, follow_redirects=True)
    hops = " -> ".join(f"{r.status_code} {r.url.path}" for r in [*response.history, response])
    out(f"\nConnecting the sandbox shop: GET {start}")
    out(f"  {hops}")
    shops = [
        shop_from_item(item)
        for item in _scan(dynamodb, ready["resources"]["ShopsTable"])
        if not item["pk"]["S"].startswith(LEASE_KEY_PREFIX)  # a grant's refresh lease
    ]
    connected = response.status_code == 200 and response.url.path == "/oauth/tiktok/callback"
    for shop in shops:
        subscribed = sum(1 for s in shop.subscriptions.values() if s.value == "subscribed")
        out(
            f"  shop {shop.shop_id} {shop.name!r} ({shop.region}): {shop.status.value}, "
            f"tokens stored encrypted, webhooks {subscribed}/{len(shop.subscriptions)} "
            f"subscribed to {shop.webhook_address}"
        )
    if not connected or not shops:
        out(f"  <-- MISMATCH: the shop was not connected (last answer {response.status_code})")
        return 1
    return 0


def seed_sample_orders(ready: dict[str, Any], client: httpx.Client) -> None:
    """Gives the sandbox the orders the sample webhooks name, in the samples' last state, so
    the burst's order webhooks hydrate like TikTok's would (an order TikTok does not return is
    retried by the stream consumer, and its retries would re-read later records too)."""
    if not ready.get("sandbox_url"):
        return
    last: dict[str, dict[str, Any]] = {}
    for path in sorted(SAMPLES.glob("*.json")):
        document = json.loads(path.read_text())
        data = document.get("data") or {}
        if document.get("type") != 1 or "order_id" not in data:
            continue
        order_id = str(data["order_id"])
        if order_id not in last or data["update_time"] > last[order_id]["update_time"]:
            last[order_id] = {"shop_id": str(document["shop_id"]), **data}
    split = {
        order_id
        for path in SAMPLES.glob("*.json")
        for package in (json.loads(path.read_text()).get("data") or {}).get("package_list", [])
        for order_id in package.get("order_id_list", [])
    }
    for order_id, data in sorted(last.items()):
        status = "CANCELLED" if data["order_status"] == "CANCEL" else data["order_status"]
        two_lines = order_id in split
        response = client.post(
            ready["sandbox_url"] + "/_admin/orders",
            json={
                "shop_id": data["shop_id"],
                "id": order_id,
                "status": status,
                "items": [SAMPLE_ITEM] * (2 if two_lines else 1),
                "package_split": [[0], [1]] if two_lines else None,
                "create_time": data["update_time"] - 3600,
                "update_time": data["update_time"],
            },
        )
        response.raise_for_status()


def follow_deauthorization(
    ready: dict[str, Any],
    dynamodb: Any,
    out: Callable[[str], None],
    url: str,
    app_key: str,
    app_secret: str,
    client: httpx.Client,
) -> int:
    """The seller removes the app: its type-6 webhook flows Events stream -> EventRouterFunction;
    wait for the shop it names to be marked deauthorized (the stream is polled, so this takes a
    moment)."""
    if not ready.get("sandbox_url") or "ShopsTable" not in ready["resources"]:
        return 0
    body = _fresh(DEAUTHORIZATION_SAMPLE)
    answer = post_signed(url, body, app_key, app_secret, client=client).status_code
    out(f"\nThe seller removes the app: {DEAUTHORIZATION_SAMPLE}.json delivered, {answer}")
    key = {"pk": {"S": json.loads(body)["shop_id"]}}
    deadline = time.monotonic() + 20
    shop = None
    while time.monotonic() < deadline:
        item = dynamodb.get_item(
            TableName=ready["resources"]["ShopsTable"], Key=key, ConsistentRead=True
        ).get("Item")
        shop = shop_from_item(item) if item else None
        if shop is not None and shop.status.value == "deauthorized":
            out(
                f"  Events stream -> EventRouterFunction: shop {shop.shop_id} is now "
                f"{shop.status.value}, tokens deleted: "
                f"{shop.tokens is None}"
            )
            return 0
        time.sleep(0.5)
    status = shop.status.value if shop else "missing"
    out(f"\n  <-- MISMATCH: shop still {status} 20 s after its deauthorization webhook")
    return 1


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
