"""Quantity exports, measured side by side in one run (moto server for DynamoDB and SQS, the
TikTok sandbox on loopback throttling at R calls/s per shop, the real export path through the
function's entry logic, the shared DynamoDB limiter):

- queue-to-TikTok latency p50/p99 under the limit: levels sent one product at a time at half
  of R, a poller like Lambda's SQS mapping (long poll, batches, delete what succeeded); the
  time from SendMessage to TikTok's answer confirming it (goal p99 <= 10 s);
- inventory calls per distinct product touched (goal 1.00);
- share of suppressed no-op exports when a second full push repeats 70% of the values;
- the time to push N SKUs across P products under R calls/s, as a ratio of the minimum P / R
  (goal <= 1.2), with W concurrent invocations drawing from one shop budget;
- the shared limiter alone: calls/s it grants W threads against R, one token per write and
  tokens in blocks (TTS_SHOP_TOKEN_BLOCK; goal >= 0.9 R). The export runs with blocks.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

RATE = float(os.environ.get("BENCH_STOCK_RATE", "100"))  # R, calls/s per shop
PRODUCTS = int(os.environ.get("BENCH_STOCK_PRODUCTS", "2000"))
SKUS_PER_PRODUCT = int(os.environ.get("BENCH_STOCK_SKUS_PER_PRODUCT", "5"))
WORKERS = int(os.environ.get("BENCH_STOCK_WORKERS", "4"))
LATENCY_LEVELS = int(os.environ.get("BENCH_STOCK_LATENCY_LEVELS", "100"))
BATCH = 100
TOKEN_BLOCK = int(os.environ.get("BENCH_STOCK_TOKEN_BLOCK", "5"))  # TTS_SHOP_TOKEN_BLOCK
WAREHOUSE = "7100000000000000001"


@dataclass
class World:
    sandbox: Any
    shop_id: str
    dynamodb: Any
    sqs: Any
    limiter: Any
    dependencies: Any
    clock: Callable[[], float] = time.time


def _tables(dynamodb: Any) -> dict[str, str]:
    from tests.support import template_resources

    resources = template_resources()
    names = {}
    for logical_id in ("StockTable", "CatalogTable", "OrdersTable", "ReservationsTable"):
        props = resources[logical_id]["Properties"]
        name = f"bench-{logical_id}-{uuid.uuid4().hex[:6]}"
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if "GlobalSecondaryIndexes" in props:
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**request)
        names[logical_id] = name
    return names


def _world(sandbox: Any) -> World:
    from tts_sync.aws import dynamodb_client, sqs_client
    from tts_sync.catalog.dynamo_store import DynamoCatalogMap
    from tts_sync.catalog.models import CatalogSku, WarehouseMapping
    from tts_sync.stock.dynamo_store import DynamoHeldReservations, DynamoStockLedger
    from tts_sync.stock.export import ExportContext
    from tts_sync.stock.runtime import QuantityExportDependencies
    from tts_sync.tiktok import ShopAccess, TikTokApiConfig, TikTokClient
    from tts_sync.tiktok.ratelimit import BucketPolicy
    from tts_sync.tiktok.ratelimit_dynamo import DynamoRateLimiter

    shop = sandbox.seed_shop("7494049642642449999", qps=RATE)
    grant = sandbox.issue_token([shop.id])
    sandbox.seed_warehouse(shop.id, WAREHOUSE, is_default=True)
    dynamodb = dynamodb_client()
    tables = _tables(dynamodb)
    catalog = DynamoCatalogMap(dynamodb, tables["CatalogTable"])
    skus = []
    for p in range(PRODUCTS):
        product_id = f"17{p:017d}"
        specs = [
            {"id": f"18{p:012d}{s:05d}", "seller_sku": f"SKU-{p}-{s}", "stock": {WAREHOUSE: 0}}
            for s in range(SKUS_PER_PRODUCT)
        ]
        sandbox.seed_product(shop.id, product_id, skus=specs)
        skus += [
            CatalogSku(
                shop_id=shop.id,
                sku_id=spec["id"],
                product_id=product_id,
                seller_sku=spec["seller_sku"],
                warehouse_ids=[WAREHOUSE],
                quantities={WAREHOUSE: 0},
            )
            for spec in specs
        ]
    catalog.save_skus(skus)
    catalog.save_mapping(
        WarehouseMapping(shop_id=shop.id, location_id="DC", warehouse_id=WAREHOUSE)
    )
    rate_table = f"bench-rate-{uuid.uuid4().hex[:6]}"
    dynamodb.create_table(
        TableName=rate_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    limiter = DynamoRateLimiter(
        rate_table, BucketPolicy(rate_per_second=RATE, burst=1), block=TOKEN_BLOCK
    )
    config = TikTokApiConfig(api_base_url=sandbox.url, auth_base_url=sandbox.url)
    client = TikTokClient(sandbox.app_key, sandbox.app_secret, config=config, limiter=limiter)
    access = ShopAccess(shop.id, shop.cipher, grant.access_token)

    class Access:
        def access(self, shop_id: str) -> ShopAccess | None:
            return access if shop_id == shop.id else None

    dependencies = QuantityExportDependencies(
        export=ExportContext(
            catalog=catalog,
            warehouses=catalog,
            # moto deep-copies every table on each transaction: one write each here.
            ledger=DynamoStockLedger(dynamodb, tables["StockTable"], transactions=False),
            reservations=DynamoHeldReservations(dynamodb, tables["ReservationsTable"]),
            shops=Access(),
            api=lambda: client,
            clock=time.time,
        ),
        catalog=catalog,
        catalog_api=lambda: client,
    )
    return World(sandbox, shop.id, dynamodb, sqs_client(), limiter, dependencies)


class MemoryLedger:
    """The ledger's contract in process memory: isolates the export's own pacing from moto's
    per-request cost (a row of its own, beside the moto-backed one)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, shop_id: str, keys: Any) -> dict[Any, Any]:
        with self._lock:
            return {k: self._entries[(shop_id, *k)] for k in keys if (shop_id, *k) in self._entries}

    def record_levels(self, levels: Any) -> list[bool]:
        results = []
        with self._lock:
            for level in levels:
                key = (level.shop_id, level.sku_id, level.warehouse_id)
                held = self._entries.get(key)
                if held is not None and (held.level_as_of or 0) > level.level_as_of:
                    results.append(False)
                    continue
                fields = level.model_dump(include={"level_available", "level_as_of"})
                self._entries[key] = held.model_copy(update=fields) if held else level
                results.append(True)
        return results

    def record_confirmations(self, confirmations: Any, *, at: float) -> list[bool]:
        results = []
        with self._lock:
            for entry, value, _reserved in confirmations:
                key = (entry.shop_id, entry.sku_id, entry.warehouse_id)
                held = self._entries.get(key)
                if held is None or held.level_as_of != entry.level_as_of:
                    results.append(False)
                    continue
                self._entries[key] = held.model_copy(
                    update={"confirmed_value": value, "sent_value": value, "confirmed_at": at}
                )
                results.append(True)
        return results

    def record_failure(self, *args: Any, **kwargs: Any) -> None:
        return None

    def record_refusal(self, refusal: Any) -> None:
        return None

    def buffer_rules(self, shop_id: str) -> Any:
        from tts_sync.stock.models import BufferRules

        return BufferRules()


class MemoryCatalog:
    """The catalog map and warehouse mapping in process memory, loaded from the moto tables
    once: with the ledger and reservations in memory too, what is left is the export's own
    pacing (the shared DynamoDB limiter, the HTTP calls, the code between them)."""

    def __init__(self, world: World) -> None:
        catalog = world.dependencies.export.catalog
        self._skus = {s.sku_id: s for s in catalog.all_skus(world.shop_id)}
        self._by_seller = {s.seller_sku: s for s in self._skus.values() if s.seller_sku}
        self._mappings = catalog.mappings(world.shop_id)

    def skus_by_seller_sku(self, shop_id: str, seller_skus: Any) -> dict[str, Any]:
        return {s: self._by_seller[s] for s in seller_skus if s in self._by_seller}

    def skus_by_id(self, shop_id: str, sku_ids: Any) -> dict[str, Any]:
        return {s: self._skus[s] for s in sku_ids if s in self._skus}

    def block_sku(self, shop_id: str, sku_id: str, reason: str) -> None:
        return None

    def mappings(self, shop_id: str) -> dict[str, Any]:
        return dict(self._mappings)


class NoReservations:
    def held_since(self, shop_id: str, since: int) -> list[Any]:
        return []


def _level(world: World, p: int, s: int, available: int, as_of: float) -> dict[str, Any]:
    return {
        "shop_id": world.shop_id,
        "seller_sku": f"SKU-{p}-{s}",
        "location_id": "DC",
        "available": available,
        "as_of": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(as_of))
        + f".{int(as_of * 1e6) % 1_000_000:06d}Z",
    }


def _records(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "messageId": uuid.uuid4().hex,
            "receiptHandle": "h",
            "body": json.dumps(b),
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            "awsRegion": "us-east-1",
        }
        for b in bodies
    ]


def _invoke(records: list[dict[str, Any]]) -> dict[str, Any]:
    from tests.support import FakeLambdaContext
    from tts_sync.stock.batch import handle_quantity_queue

    return handle_quantity_queue({"Records": records}, FakeLambdaContext(60_000), lambda: 60.0)


def _full_push(world: World, values: Callable[[int, int], int], as_of: float) -> tuple[float, Any]:
    """Every SKU once, in batches of 100 (a product's SKUs together, as a back office sends a
    product's stock), W concurrent invocations. Returns (seconds, level outcome counts)."""
    from collections import Counter

    from tts_sync.stock.export import ExportOutcome  # noqa: F401

    bodies = [
        _level(world, p, s, values(p, s), as_of)
        for p in range(PRODUCTS)
        for s in range(SKUS_PER_PRODUCT)
    ]
    batches = [_records(bodies[i : i + BATCH]) for i in range(0, len(bodies), BATCH)]
    lock = threading.Lock()
    failed: list[str] = []
    totals: Counter[str] = Counter()

    def worker() -> None:
        from tts_sync.observability import metrics

        while True:
            with lock:
                if not batches:
                    return
                batch = batches.pop()
            pending = batch
            while pending:
                response = _invoke(pending)
                ids = {f["itemIdentifier"] for f in response["batchItemFailures"]}
                pending = [r for r in pending if r["messageId"] in ids]
                if pending:
                    with lock:
                        failed.extend(ids)
            with lock:
                for name, value in metrics.metric_set.items():
                    totals[name] += int(sum(value.get("Value", [0])))
                metrics.clear_metrics()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, (totals, len(failed))


def _latency(world: World) -> list[float]:
    """Levels sent at R/2, one product each; a poller delivers them like Lambda's mapping."""
    queue = world.sqs.create_queue(QueueName=f"bench-qx-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    sent: dict[str, float] = {}
    latencies: list[float] = []
    stop = threading.Event()

    give_up = time.monotonic() + 120 + LATENCY_LEVELS * 2.0 / RATE

    def poll() -> None:
        while time.monotonic() < give_up:
            reply = world.sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            messages = reply.get("Messages", [])
            if not messages:
                if stop.is_set() and len(latencies) >= len(sent):
                    return
                continue
            records = [
                {
                    **_records([json.loads(m["Body"])])[0],
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                }
                for m in messages
            ]
            response = _invoke(records)
            done = time.time()
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] in failed:
                    continue
                world.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                latencies.append(done - sent[json.loads(message["Body"])["seller_sku"]])

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    interval = 2.0 / RATE
    for i in range(LATENCY_LEVELS):
        body = _level(world, i % PRODUCTS, 0, 1_000 + i, time.time())
        sent[body["seller_sku"]] = time.time()
        world.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))
        time.sleep(interval)
    stop.set()
    poller.join(timeout=60)
    return latencies


def _limiter_alone(world: World, block: int, seconds: float = 3.0) -> float:
    from tts_sync.tiktok.ratelimit import BucketPolicy
    from tts_sync.tiktok.ratelimit_dynamo import DynamoRateLimiter

    limiter = DynamoRateLimiter(
        world.limiter.table_name, BucketPolicy(rate_per_second=RATE, burst=1), block=block
    )
    shop = f"limiter-alone-{block}"
    limiter.acquire(shop, lambda: 10.0)
    granted = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def work() -> None:
        nonlocal granted
        while time.monotonic() < stop_at:
            limiter.acquire(shop, lambda: 10.0)
            with lock:
                granted += 1

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return granted / seconds


def run() -> None:
    from benchmarks.bench_rate_limit import _moto_dynamodb
    from tts_local.sandbox import Sandbox
    from tts_local.stack.moto_atomic import serialize_dynamodb_writes
    from tts_sync.stock.runtime import override_dependencies

    serialize_dynamodb_writes()  # the in-process moto server's per-item atomicity
    skus = PRODUCTS * SKUS_PER_PRODUCT
    print(
        f"sandbox limit R = {RATE:g} calls/s, {skus} SKUs across {PRODUCTS} products, "
        f"{WORKERS} concurrent invocations, batches of {BATCH}",
        flush=True,
    )
    with _moto_dynamodb(), Sandbox("bench-key", "bench-secret") as sandbox:
        world = _world(sandbox)
        override_dependencies(world.dependencies)
        try:
            for block in dict.fromkeys((1, TOKEN_BLOCK)):
                granted = _limiter_alone(world, block)
                print(
                    f"  shared limiter alone, block {block:<2}     {granted:6.1f}/s = "
                    f"{granted / RATE:4.2f} R   (goal >= 0.90)",
                    flush=True,
                )
            sandbox.throttle.reset()
            calls_before = len(sandbox.requests("/product/"))
            base = time.time() - 3600
            seconds, (_, retried) = _full_push(world, lambda p, s: 10 + (p + s) % 50, base)
            calls = len(sandbox.requests("/product/")) - calls_before
            minimum = PRODUCTS / RATE
            print(
                f"  push {skus} SKUs / {PRODUCTS} products   {seconds:6.1f} s = "
                f"{seconds / minimum:4.2f} x the minimum {minimum:.1f} s   (goal <= 1.2); "
                f"429s {sandbox.throttle.throttled}, messages retried {retried}",
                flush=True,
            )
            print(f"  inventory calls per product        {calls / PRODUCTS:5.2f}   (goal 1.00)")
            fast = replace(world.dependencies.export, ledger=MemoryLedger())
            override_dependencies(replace(world.dependencies, export=fast))
            memory_seconds, _ = _full_push(world, lambda p, s: 10 + (p + s) % 50, base)
            print(
                f"  same push, ledger in memory       {memory_seconds:6.1f} s = "
                f"{memory_seconds / minimum:4.2f} x the minimum",
                flush=True,
            )
            catalog = MemoryCatalog(world)
            pacing = replace(
                fast,
                ledger=MemoryLedger(),
                catalog=catalog,
                warehouses=catalog,
                reservations=NoReservations(),
            )
            override_dependencies(replace(world.dependencies, export=pacing))
            pacing_seconds, _ = _full_push(world, lambda p, s: 10 + (p + s) % 50, base + 30)
            override_dependencies(world.dependencies)
            print(
                f"  same push, every store in memory  {pacing_seconds:6.1f} s = "
                f"{pacing_seconds / minimum:4.2f} x the minimum (the export's own pacing: "
                "shared DynamoDB limiter, HTTP, code)",
                flush=True,
            )
            # A second push: 70% of SKUs repeat their value (suppressed), 30% change.
            again, (totals, _) = _full_push(
                world,
                lambda p, s: 10 + (p + s) % 50 + (1 if (p * SKUS_PER_PRODUCT + s) % 10 < 3 else 0),
                base + 60,
            )
            levels = sum(totals.get(n, 0) for n in ("QuantityExported", "QuantitySuppressed"))
            suppressed = totals.get("QuantitySuppressed", 0) / max(1, levels)
            print(
                f"  suppressed no-op exports           {suppressed:5.1%}   "
                f"(70% of the second push repeat; it took {again:.1f} s)",
                flush=True,
            )
            latencies = sorted(_latency(world))
        finally:
            override_dependencies(None)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    print(
        f"  queue-to-TikTok latency at R/2     p50 {p50:5.2f} s   p99 {p99:5.2f} s"
        f"   (goal p99 <= 10 s; {len(latencies)} levels)"
    )


if __name__ == "__main__":
    run()
