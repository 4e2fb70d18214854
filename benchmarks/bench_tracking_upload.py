"""Tracking uploads: TikTok calls per uploaded shipment (goal 2: one check, one write), through
the function's entry logic and the real client against the sandbox on loopback, stores in
memory; every message is delivered twice (the second copy must cost no call).
Size: BENCH_TRACKING_ORDERS (default 200)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from typing import Any


def run() -> None:
    from tests.integration.orders.conftest import APP_KEY, APP_SECRET, DEMO_ACCESS_TOKEN, api_client
    from tests.support import FakeLambdaContext
    from tests.unit.fulfilment.fakes import MemoryFulfilmentStore
    from tests.unit.orders.fakes import MemoryOrderStore
    from tests.unit.outbound.memory_publisher import MemoryEventPublisher
    from tts_local.sandbox import Sandbox
    from tts_local.sandbox.seed import DEMO_CIPHER
    from tts_sync.fulfilment.batch import handle_tracking_upload_event
    from tts_sync.fulfilment.ports import ShopTarget
    from tts_sync.fulfilment.runtime import TrackingUploadDependencies, override_dependencies
    from tts_sync.fulfilment.upload import UploadContext
    from tts_sync.orders.sync import SyncContext
    from tts_sync.tiktok import ShopAccess

    count = int(os.environ.get("BENCH_TRACKING_ORDERS", "200"))
    with Sandbox(APP_KEY, APP_SECRET, port=0) as sandbox:
        demo = sandbox.seed_demo_data()
        shop_id = demo.shop.id
        client = api_client(sandbox)
        access = ShopAccess(
            shop_id=shop_id, shop_cipher=DEMO_CIPHER, access_token=DEMO_ACCESS_TOKEN
        )

        class Shops:
            def target(self, wanted: str) -> ShopTarget | None:
                return ShopTarget(access=access, region="US") if wanted == shop_id else None

        store = MemoryFulfilmentStore()
        override_dependencies(
            TrackingUploadDependencies(
                upload=UploadContext(
                    store=store,
                    sync=SyncContext(MemoryOrderStore(), MemoryEventPublisher(), time.time),
                    shops=Shops(),
                    api=lambda: client,
                    clock=time.time,
                ),
                store=store,
                logistics_api=lambda: client,
            )
        )

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            with contextlib.redirect_stdout(io.StringIO()):  # the metrics' EMF lines
                return handle_tracking_upload_event(event, FakeLambdaContext(), lambda: 50.0)

        invoke({"job": "carriers_build", "shop_id": shop_id})
        item = {
            "sku_id": "1729582718312381001",
            "product_id": "1729582718312380001",
            "price": "14.00",
        }
        orders = [
            sandbox.place_order(shop_id, [item], on_hold=False, notify=False) for _ in range(count)
        ]
        sandbox.clear_requests()
        bodies = [
            json.dumps(
                {
                    "shop_id": shop_id,
                    "order_id": order.id,
                    "carrier": "UPS",
                    "tracking_number": f"1ZBENCH{index:08d}",
                    "shipped_at": "2026-12-01T15:00:00Z",
                }
            )
            for index, order in enumerate(orders)
        ]
        started = time.perf_counter()
        failed = 0
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            records = [_record(b, f"m{start}-{i}") for i, b in enumerate(chunk + chunk)]
            failed += len(invoke({"Records": records})["batchItemFailures"])
        elapsed = time.perf_counter() - started
        calls = [r for r in sandbox.requests() if not r["path"].startswith("/_admin")]
        writes = [r for r in calls if r["method"] == "POST"]
        uploaded = sum(1 for o in orders if sandbox.state.orders[o.id].status == "IN_TRANSIT")
        override_dependencies(None)
        client.close()
    print(f"{count} shipments, each delivered twice (10 per batch, the copy in the same batch)")
    print(
        f"  uploaded {uploaded}/{count}, retried {failed}; TikTok calls per uploaded shipment "
        f"{len(calls) / max(uploaded, 1):.2f} (goal 2.00: one check, one write), writes per "
        f"shipment {len(writes) / max(uploaded, 1):.2f}; {elapsed / max(count, 1) * 1000:.1f} ms "
        "per shipment"
    )


def _record(body: str, message_id: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": message_id,
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:TrackingUploadQueue",
        "awsRegion": "us-east-1",
    }
