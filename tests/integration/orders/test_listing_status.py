"""PRODUCT_STATUS_CHANGE (type 5) webhooks through the Events stream's one consumer into the
CatalogTable (moto, RejectedListingsIndex), a "Listing Status Changed" event only on a real
change, and the {"job": "rejected_listings"} console event listing the rejected ones."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.orders.conftest import OrderSync, run_job
from tests.integration.orders.streams import stream_batch
from tts_sync.outbound.models import LISTING_STATUS_CHANGED

pytestmark = pytest.mark.usefixtures("jobs_env")

MUG, TOTE, CAP = "1729582718312380001", "1729582718312380002", "1729582718312380003"
CONSOLE_EVENTS = Path(__file__).resolve().parents[3] / "events" / "console"


def product_status(
    shop_id: str, product_id: str, status: str, update_time: int, reason: str = ""
) -> dict[str, Any]:
    data: dict[str, Any] = {"product_id": product_id, "status": status, "update_time": update_time}
    if reason:
        data["suspended_reason"] = reason
    return {
        "type": 5,
        "tts_notification_id": uuid.uuid4().hex,
        "shop_id": shop_id,
        "timestamp": update_time + 2,
        "data": data,
    }


def listing_events(sync: OrderSync) -> list[Any]:
    return [e.detail for e in sync.publisher.published if e.detail_type == LISTING_STATUS_CHANGED]


def test_product_status_webhooks_record_the_listing_status_once(dynamo_sync: OrderSync) -> None:
    sync, shop = dynamo_sync, dynamo_sync.shop_id
    t = int(time.time()) - 600
    batch = stream_batch(
        [
            product_status(shop, MUG, "PRODUCT_FIRST_PASS_REVIEW", t),
            product_status(shop, TOTE, "PRODUCT_AUDIT_FAILURE", t, "Image shows a watermark"),
            product_status(shop, CAP, "PRODUCT_STATUS_CHANGED", t),
        ]
    )
    assert sync.consume(batch) == {"batchItemFailures": []}
    assert sync.detail_calls() == 0  # a product status needs no order call
    store = sync.dependencies.listings.store
    mug, tote, cap = (store.get(shop, p) for p in (MUG, TOTE, CAP))
    assert (
        mug is not None
        and mug.status == "approved"
        and mug.tiktok_status == ("PRODUCT_FIRST_PASS_REVIEW")
    )
    assert tote is not None and tote.status == "rejected"
    assert tote.reason == "Image shows a watermark" and tote.update_time == t
    assert cap is not None and cap.status == "in_review"
    events = listing_events(sync)
    assert [(e.product_id, e.status, e.previous_status) for e in events] == [
        (MUG, "approved", None),
        (TOTE, "rejected", None),
        (CAP, "in_review", None),
    ]
    assert events[1].reason == "Image shows a watermark"

    # A duplicate (TikTok's retry, a new notification id) and an older notification: no change.
    again = stream_batch(
        [
            product_status(shop, TOTE, "PRODUCT_AUDIT_FAILURE", t, "Image shows a watermark"),
            product_status(shop, MUG, "PRODUCT_AUDIT_FAILURE", t - 300, "Old review"),
        ]
    )
    assert sync.consume(again) == {"batchItemFailures": []}
    assert len(listing_events(sync)) == 3
    assert store.get(shop, MUG) == mug and store.get(shop, TOTE) == tote

    # Real changes: the mug rejected after an edit, the tote approved after a fix.
    later = stream_batch(
        [
            product_status(shop, MUG, "PRODUCT_AUDIT_FAILURE", t + 300, "Prohibited claim"),
            product_status(shop, TOTE, "PRODUCT_FIRST_PASS_REVIEW", t + 300),
        ]
    )
    assert sync.consume(later) == {"batchItemFailures": []}
    events = listing_events(sync)
    assert [(e.product_id, e.status, e.previous_status, e.reason) for e in events[3:]] == [
        (MUG, "rejected", "approved", "Prohibited claim"),
        (TOTE, "approved", "rejected", ""),
    ]
    assert len({e.event_id for e in events}) == len(events) == 5

    # Ops list the rejected ones with one index query: the mug only (the tote left the index).
    console = json.loads((CONSOLE_EVENTS / "order_sync_rejected_listings.json").read_text())
    result = run_job(console | {"shop_id": shop})
    assert result["shop_id"] == shop
    assert [(r["product_id"], r["status"], r["reason"]) for r in result["rejected"]] == [
        (MUG, "rejected", "Prohibited claim")
    ]
    assert run_job({"job": "rejected_listings", "shop_id": "7000000000000000404"}) == {
        "shop_id": "7000000000000000404",
        "rejected": [],
    }


def test_a_listing_status_without_update_time_orders_by_the_webhook_timestamp(
    dynamo_sync: OrderSync,
) -> None:
    sync, shop = dynamo_sync, dynamo_sync.shop_id
    t = int(time.time()) - 600
    first = product_status(shop, MUG, "PRODUCT_AUDIT_FAILURE", t, "Blurry image")
    del first["data"]["update_time"]
    second = product_status(shop, MUG, "PRODUCT_FIRST_PASS_REVIEW", t + 60)
    del second["data"]["update_time"]
    # Delivered out of order: the newer (approved) first, the older rejection after it.
    assert sync.consume(stream_batch([second])) == {"batchItemFailures": []}
    assert sync.consume(stream_batch([first])) == {"batchItemFailures": []}
    listing = sync.dependencies.listings.store.get(shop, MUG)
    assert listing is not None and listing.status == "approved"
    assert listing.update_time == second["timestamp"]
    assert [e.status for e in listing_events(sync)] == ["approved"]
    assert run_job({"job": "rejected_listings", "shop_id": shop})["rejected"] == []
