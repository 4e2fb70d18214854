"""The demo's stock act: the catalog map and warehouse mapping are set up through
QuantityExportFunction's console jobs, a product the seller creates reaches the catalog map by
its PRODUCT_CREATION webhook (Events stream -> EventRouterFunction -> Get Product Detail), then
the back office's stock levels go on QuantityExportQueue and the function pushes them into the
sandbox. The summary shows what TikTok now holds per warehouse (read from the sandbox), what was
coalesced or suppressed (from the sandbox's request log), and what was refused and why."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

WAIT_SECONDS = 30
# The demo shop's warehouses and a product the seller creates (tts_local.sandbox.seed's ids).
EAST, WEST, RETURNS = "7000000000000001001", "7000000000000001002", "7000000000000001003"
TRAVEL_PRODUCT, TRAVEL_SKU = "1729582718312380003", "1729582718312383001"
FUNCTION = "QuantityExportFunction"


def run_stock_act(
    ready: dict[str, Any], shop_id: str, sqs: Any, http: httpx.Client, out: Callable[[str], None]
) -> int:
    """Returns the number of unexpected results."""
    resources = ready["resources"]
    if not ready.get("sandbox_url") or "QuantityExportQueue" not in resources:
        return 0
    act = _StockAct(ready, shop_id, http)
    failures = 0
    out("\nStock: catalog map and warehouse mapping (QuantityExportFunction console jobs)")
    synced = act.job("catalog_sync")
    out(f"  catalog_sync: {synced.get('products')} products, {synced.get('skus')} SKUs")
    for location, warehouse in (("WH-EAST", EAST), ("WH-WEST", WEST), ("WH-RETURNS", RETURNS)):
        mapped = act.job("map_location", location_id=location, warehouse_id=warehouse)
        verdict = "mapped" if mapped.get("mapped") else f"refused: {mapped.get('reason')}"
        out(f"  map {location:<10} -> {warehouse}: {verdict}")
        failures += bool(mapped.get("mapped")) == (location == "WH-RETURNS")

    # The seller creates a product: TikTok's PRODUCT_CREATION webhook keeps the map current.
    act.sandbox(
        "/products",
        {
            "shop_id": shop_id,
            "id": TRAVEL_PRODUCT,
            "title": "Travel mug",
            "skus": [{"id": TRAVEL_SKU, "seller_sku": "MUG-TRAVEL", "stock": {EAST: 0}}],
            "notify": True,
        },
    )
    if act.wait(lambda: act.product_detail_read(TRAVEL_PRODUCT)):
        out(
            "  PRODUCT_CREATION webhook -> EventRouterFunction -> Get Product Detail: "
            "MUG-TRAVEL in the catalog map"
        )
    else:
        failures += 1
        out(f"  <-- MISMATCH: MUG-TRAVEL not in the catalog map {WAIT_SECONDS} s after its webhook")

    now = time.time()
    levels = [
        _level(shop_id, "MUG-RED", "WH-EAST", 30, now - 60),  # older: superseded
        _level(shop_id, "MUG-RED", "WH-EAST", 26, now - 30),
        _level(shop_id, "MUG-RED", "WH-WEST", 9, now - 30),
        _level(shop_id, "MUG-BLUE", "WH-EAST", 14, now - 30),
        _level(shop_id, "TOTE-NAT", "WH-WEST", 5, now - 30),
        _level(shop_id, "MUG-TRAVEL", "WH-EAST", 40, now - 30),
        _level(shop_id, "MUG-GREEN", "WH-EAST", 3, now - 30),  # not in the catalog map
        _level(shop_id, "TOTE-NAT", "WH-MARS", 2, now - 30),  # location not mapped
    ]
    queue = resources["QuantityExportQueue"]
    act.http.delete(act.sandbox_url + "/_admin/requests")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"levels": levels}))
    sqs.send_message(
        QueueUrl=queue, MessageBody=json.dumps({**levels[1], "available": -4})
    )  # refused: negative
    out(f"\n  {len(levels) + 1} levels in 2 messages on QuantityExportQueue")
    pushed = {("MUG-RED", EAST), ("MUG-RED", WEST), ("MUG-BLUE", EAST), ("TOTE-NAT", WEST)}
    pushed.add(("MUG-TRAVEL", EAST))
    if not act.wait(lambda: pushed <= act.confirmed_keys() and len(act.refusals(now)) >= 3):
        failures += 1
        out(f"  <-- MISMATCH: levels not all confirmed or refused after {WAIT_SECONDS} s")
    calls = act.inventory_calls()
    # The same value again: TikTok already shows it, nothing is sent.
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({**levels[1], "as_of": _iso(now)}))
    act.wait(lambda: act.level_as_of("MUG-RED", EAST) >= int(now))
    repeat_calls = act.inventory_calls()[len(calls) :]

    out("  what TikTok now holds (sandbox), and why (the export ledger):")
    stock = {(e["seller_sku"], e["warehouse_id"]): e for e in act.job("stock")["stock"]}
    tiktok = act.tiktok_stock()
    for seller_sku, warehouse in sorted(pushed):
        entry = stock.get((seller_sku, warehouse), {})
        held = tiktok.get((seller_sku, warehouse))
        reserved = entry.get("reserved_units", 0)
        out(
            f"    {seller_sku:<11} warehouse {warehouse}: TikTok {held!s:>3}   level "
            f"{entry.get('level_available')!s:>3} - {reserved} reserved by open orders"
            f" -> confirmed {entry.get('confirmed_value')}"
        )
        if held is None or held != entry.get("confirmed_value"):
            failures += 1
            out("      <-- MISMATCH: TikTok holds something else than the ledger confirmed")
    sent = [q for call in calls for q in call if q[:2] == ("MUG-RED", EAST)]
    out(
        f"  coalesced: MUG-RED at {EAST} had levels 30 (older) and 26 in one batch; "
        f"TikTok was sent {[q[2] for q in sent]} ({len(calls)} inventory calls, one per product)"
    )
    failures += [q[2] for q in sent] != [stock.get(("MUG-RED", EAST), {}).get("sent_value")]
    out(
        f"  suppressed: MUG-RED 26 sent again with a newer as_of -> "
        f"{len(repeat_calls)} inventory calls (TikTok already shows it)"
    )
    failures += len(repeat_calls) != 0
    out("  refused, and why (StockTable refusal records, metric QuantityRefused):")
    for refusal in act.refusals(now):
        out(f"    {refusal['sku_ref'] or '(message)':<11} {refusal['reason'][:88]}")
    return failures


class _StockAct:
    def __init__(self, ready: dict[str, Any], shop_id: str, http: httpx.Client) -> None:
        self.api_url = ready["api_url"].rstrip("/")
        self.sandbox_url = ready["sandbox_url"]
        self.shop_id = shop_id
        self.http = http

    def job(self, name: str, **fields: Any) -> dict[str, Any]:
        response = self.http.post(
            f"{self.api_url}/_local/functions/{FUNCTION}/invoke",
            json={"job": name, "shop_id": self.shop_id} | fields,
        )
        response.raise_for_status()
        answer = response.json()
        payload = answer.get("payload")
        return payload if answer.get("ok") and isinstance(payload, dict) else {}

    def sandbox(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(self.sandbox_url + "/_admin" + path, json=body)
        response.raise_for_status()
        return response.json()

    def product_detail_read(self, product_id: str) -> bool:
        """Whether Get Product Detail of the product was answered (EventRouterFunction's
        refresh; the level for it, later, shows the catalog map took it)."""
        log = self.http.get(
            self.sandbox_url + "/_admin/requests", params={"path_prefix": "/product/"}
        ).json()
        return any(r["path"].endswith(product_id) and r["status"] == 200 for r in log)

    def confirmed_keys(self) -> set[tuple[str, str]]:
        return {
            (e["seller_sku"], e["warehouse_id"])
            for e in self.job("stock").get("stock", [])
            if e.get("confirmed_value") is not None
        }

    def level_as_of(self, seller_sku: str, warehouse: str) -> float:
        for entry in self.job("stock").get("stock", []):
            if (entry["seller_sku"], entry["warehouse_id"]) == (seller_sku, warehouse):
                return float(entry.get("level_as_of") or 0)
        return 0.0

    def refusals(self, since: float) -> list[dict[str, Any]]:
        """The shop's refusals and those of messages too broken to name a shop (kept under
        shop "-")."""
        found = self.job("refusals").get("refusals", [])
        found += self.job("refusals", shop_id="-").get("refusals", [])
        return [r for r in found if _epoch(r["refused_at"]) >= since - 1]

    def tiktok_stock(self) -> dict[tuple[str, str], int]:
        state = self.http.get(self.sandbox_url + "/_admin/state").json()
        held = {}
        for product in _products(state):
            for sku in product.get("skus", []):
                for warehouse, quantity in sku.get("stock", {}).items():
                    held[(sku["seller_sku"], warehouse)] = quantity
        return held

    def inventory_calls(self) -> list[list[tuple[str, str, int]]]:
        """Each inventory update the sandbox answered: (seller SKU, warehouse, quantity)."""
        log = self.http.get(
            self.sandbox_url + "/_admin/requests", params={"path_prefix": "/product/"}
        ).json()
        sellers = {
            sku["id"]: sku["seller_sku"]
            for product in _products(self.http.get(self.sandbox_url + "/_admin/state").json())
            for sku in product.get("skus", [])
        }
        calls = []
        for request in log:
            if not request["path"].endswith("/inventory/update") or request["status"] != 200:
                continue
            body = json.loads(request["body"] or "{}")
            calls.append(
                [
                    (sellers.get(str(s["id"]), str(s["id"])), str(i["warehouse_id"]), i["quantity"])
                    for s in body.get("skus", [])
                    for i in s.get("inventory", [])
                ]
            )
        return calls

    def wait(self, done: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.5)
        return False


def _products(state: dict[str, Any]) -> list[dict[str, Any]]:
    products = state.get("products", {})
    return list(products.values() if isinstance(products, dict) else products)


def _level(
    shop_id: str, seller_sku: str, location: str, available: int, as_of: float
) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "seller_sku": seller_sku,
        "location_id": location,
        "available": available,
        "as_of": _iso(as_of),
    }


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
