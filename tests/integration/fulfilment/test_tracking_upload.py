"""Tracking uploads end to end against the sandbox: once per shipment whatever the queue and
the function do (redelivery, a crash before bookkeeping, concurrent deliveries, an unknown
outcome), both packages of a split shipment, and every refusal with its code and reason."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.integration.fulfilment.conftest import (
    DemoShops,
    Tracking,
    failed_ids,
    shipment,
    shipped_events,
    sqs_batch,
    sqs_record,
)
from tts_sync.fulfilment.batch import parse_tracking_message

TRACKING = "1Z999AA10123456784"


def test_one_upload_two_calls_then_duplicates_cost_nothing(tracking: Tracking) -> None:
    order = tracking.order("awaiting_shipment")
    body = shipment(order.id)
    assert failed_ids(tracking.consume(body)) == []
    assert len(tracking.calls()) == 2  # one check (order detail), one write (mark shipped)
    (write,) = tracking.writes()
    assert write["path"] == f"/fulfillment/202309/orders/{order.id}/packages"
    assert [t for _, t in tracking.tiktok_lines("awaiting_shipment")] == [TRACKING, TRACKING]
    assert tracking.sandbox.state.orders[order.id].status == "IN_TRANSIT"
    record = tracking.orders.get_many(tracking.shop_id, [order.id])[order.id].record
    (uploaded,) = record.shipments
    assert (uploaded.carrier, uploaded.tracking_number, uploaded.action) == (
        "UPS",
        TRACKING,
        "mark_shipped",
    )
    assert uploaded.shipping_provider_id == "6617675021119438850"  # UPS on the demo options
    (event,) = shipped_events(tracking)
    assert event.detail.changes == ["shipments"]
    assert event.detail.order.shipments[0].tracking_number == TRACKING
    # The same shipment again (a redelivery, another message id): nothing read or sent.
    tracking.sandbox.clear_requests()
    assert failed_ids(tracking.consume(body, body)) == []
    assert tracking.calls() == [] and len(shipped_events(tracking)) == 1


class CrashingStore:
    """The order store of a function that dies right after TikTok answered."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write(self, write: Any) -> bool:
        raise RuntimeError("killed before the bookkeeping")


def test_a_crash_after_the_call_then_redelivery_is_one_upload(tracking: Tracking) -> None:
    from dataclasses import replace

    order = tracking.order("awaiting_shipment")
    body = shipment(order.id)
    healthy = tracking.dependencies.upload.sync
    tracking.use(sync=replace(healthy, store=CrashingStore(healthy.store)))
    assert len(failed_ids(tracking.consume(body))) == 1
    assert len(tracking.writes()) == 1 and shipped_events(tracking) == []
    tracking.use(sync=healthy)
    # Redelivered while the dead run's lease still holds: retried, nothing sent to TikTok.
    tracking.sandbox.clear_requests()
    assert len(failed_ids(tracking.consume(body))) == 1
    assert tracking.calls() == []
    # After the lease (SQS redelivers after the visibility timeout, 3x the lease).
    tracking.clock.now += 61
    assert failed_ids(tracking.consume(body)) == []
    assert tracking.writes() == []  # the check found the tracking on TikTok: nothing resent
    (event,) = shipped_events(tracking)
    assert event.detail.order.shipments[0].action == "already_shipped"


def test_two_concurrent_deliveries_make_one_upload(tracking: Tracking) -> None:
    order = tracking.order("awaiting_shipment")
    body = shipment(order.id)
    start = threading.Barrier(2)
    answers: list[dict[str, Any]] = []

    def deliver() -> None:
        start.wait()
        answers.append(tracking.invoke({"Records": [sqs_record(body)]}))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tracking.writes()) == 1
    assert len(shipped_events(tracking)) == 1
    # The loser was retried (busy) or absorbed (duplicate); a retry then is a duplicate.
    tracking.sandbox.clear_requests()
    assert failed_ids(tracking.consume(body)) == [] and tracking.writes() == []
    assert sum(len(a["batchItemFailures"]) for a in answers) <= 1


def test_a_split_shipment_uploads_both_packages(tracking: Tracking) -> None:
    order = tracking.order("split")
    lines = [line.id for line in order.line_items]
    first = shipment(order.id, "1ZSPLIT0001", line_item_ids=lines[:2])
    second = shipment(order.id, "9400SPLIT02", carrier="usps", line_item_ids=lines[2:])
    assert failed_ids(tracking.consume(first)) == []
    assert tracking.sandbox.state.orders[order.id].status == "PARTIALLY_SHIPPING"
    assert failed_ids(tracking.consume(second)) == []
    assert [t for _, t in tracking.tiktok_lines("split")] == [
        "1ZSPLIT0001",
        "1ZSPLIT0001",
        "9400SPLIT02",
    ]
    assert tracking.sandbox.state.orders[order.id].status == "IN_TRANSIT"
    assert len(tracking.writes()) == 2 and len(shipped_events(tracking)) == 2
    record = tracking.orders.get_many(tracking.shop_id, [order.id])[order.id].record
    assert {s.tracking_number for s in record.shipments} == {"1ZSPLIT0001", "9400SPLIT02"}
    assert len({s.package_id for s in record.shipments}) == 2


def test_outside_mark_shipped_markets_the_package_ships_with_self_shipment(
    tracking: Tracking,
) -> None:
    tracking.sandbox.state.shops[tracking.shop_id].region = "MY"
    tracking.use(shops=DemoShops(tracking.shop_id, region="MY"))
    order = tracking.order("awaiting_shipment")
    assert failed_ids(tracking.consume(shipment(order.id))) == []
    (write,) = tracking.writes()
    package = order.line_items[0].package_id
    assert write["path"] == f"/fulfillment/202309/packages/{package}/ship"
    assert "self_shipment" in write["body"]


@pytest.mark.parametrize("region", ["US", "MY"])
def test_an_unknown_outcome_is_checked_before_any_resend(tracking: Tracking, region: str) -> None:
    tracking.sandbox.state.shops[tracking.shop_id].region = region
    tracking.use(shops=DemoShops(tracking.shop_id, region=region))
    order = tracking.order("awaiting_shipment")
    path = (
        f"/fulfillment/202309/orders/{order.id}/packages"
        if region == "US"
        else f"/fulfillment/202309/packages/{order.line_items[0].package_id}/ship"
    )
    tracking.sandbox.inject_fault(path, "garbled", after_apply=True)
    assert failed_ids(tracking.consume(shipment(order.id))) == []
    assert len(tracking.writes()) == 1  # applied once, checked, never resent
    checks = [r["path"] for r in tracking.calls()][-1]
    assert checks.startswith("/order/" if region == "US" else "/fulfillment/202309/packages/")
    assert len(shipped_events(tracking)) == 1


def test_a_correction_within_72_hours_updates_the_shipping_info(tracking: Tracking) -> None:
    order = tracking.order("awaiting_shipment")
    assert failed_ids(tracking.consume(shipment(order.id))) == []
    assert failed_ids(tracking.consume(shipment(order.id, "1ZCORRECTED1"))) == []
    assert tracking.writes()[-1]["path"].endswith("/shipping_info/update")
    assert {t for _, t in tracking.tiktok_lines("awaiting_shipment")} == {"1ZCORRECTED1"}
    record = tracking.orders.get_many(tracking.shop_id, [order.id])[order.id].record
    assert [s.tracking_number for s in record.shipments] == ["1ZCORRECTED1"]  # per package


def _prepare(tracking: Tracking, case: str) -> dict[str, Any]:
    state = tracking.sandbox.state.orders
    awaiting = tracking.order("awaiting_shipment")
    split = tracking.order("split")
    if case == "tiktok_shipping":
        state[awaiting.id].shipping_type = "TIKTOK"
    elif case == "order_not_shippable":
        state[awaiting.id].status = "AWAITING_COLLECTION"
    elif case in ("cancellation_requested", "tiktok_refused"):
        state[awaiting.id].buyer_cancel_requested = True
        if case == "tiktok_refused":  # the shop ships over requests; TikTok (MY) refuses
            tracking.invoke(
                {
                    "job": "fulfilment_settings",
                    "shop_id": tracking.shop_id,
                    "settings": {"ship_over_cancellation_request": True},
                }
            )
            tracking.sandbox.state.shops[tracking.shop_id].region = "MY"
            tracking.use(shops=DemoShops(tracking.shop_id, region="MY"))
    elif case == "package_required":
        tracking.use(shops=DemoShops(tracking.shop_id, region="MY"))
        return shipment(split.id)
    elif case == "mixed_shipment":
        lines = [line.id for line in split.line_items]
        assert (
            failed_ids(tracking.consume(shipment(split.id, "1ZFIRST", line_item_ids=lines[:1])))
            == []
        )
        return shipment(split.id, "1ZSECOND", line_item_ids=[lines[0], lines[2]])
    elif case == "correction_too_late":
        assert failed_ids(tracking.consume(shipment(awaiting.id))) == []
        tracking.clock.now += 73 * 3600
        return shipment(awaiting.id, "1ZLATE0001")
    bodies = {
        "unknown_shop": shipment(awaiting.id, shop_id="1111"),
        "unknown_order": shipment("5768901234567899999"),
        "order_cancelled": shipment(tracking.order("cancelled").id),
        "order_unpaid": shipment(tracking.order("unpaid").id),
        "unknown_carrier": shipment(awaiting.id, carrier="Acme Freight"),
        "unknown_line_items": shipment(awaiting.id, line_item_ids=["7000000000000000999"]),
        "unknown_package": shipment(awaiting.id, package_id="7000000000000000999"),
    }
    return bodies.get(case, shipment(awaiting.id))


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("unknown_shop", "shop 1111 is not connected"),
        ("unknown_order", "order 5768901234567899999 is not an order of shop"),
        ("tiktok_shipping", "ships with TikTok"),
        ("order_cancelled", "is cancelled"),
        ("order_unpaid", "is UNPAID"),
        ("cancellation_requested", "the buyer asked to cancel"),
        ("order_not_shippable", "is AWAITING_COLLECTION: only AWAITING_SHIPMENT"),
        ("unknown_carrier", "'Acme Freight' is not a shipping provider TikTok accepts"),
        ("unknown_line_items", "line items 7000000000000000999 are not lines"),
        ("unknown_package", "package 7000000000000000999 is not a package"),
        ("package_required", "name the package_id"),
        ("mixed_shipment", "already shipped with another tracking number"),
        ("correction_too_late", "only within 72 h"),
        ("tiktok_refused", "cancellation request is pending"),
    ],
)
def test_each_refusal_is_recorded_with_its_reason(
    tracking: Tracking, case: str, words: str
) -> None:
    body = _prepare(tracking, case)
    writes_before = len(tracking.writes())
    assert failed_ids(tracking.consume(body)) == []  # acknowledged: retrying cannot fix it
    refusal = tracking.store.refusals(body["shop_id"])[-1]
    assert refusal.code.value == case and words in refusal.reason, refusal.reason
    if case == "unknown_carrier":
        assert "accepted: UPS, USPS" in refusal.reason
    if case == "tiktok_refused":
        assert refusal.tiktok_code == 21011007
    assert len(tracking.writes()) == writes_before + (1 if case == "tiktok_refused" else 0)
    # Refused shipments give their key back: a resend after a fix is decided again.
    key = parse_tracking_message(json.dumps(body)).business_key
    assert tracking.store.claim_of(body["shop_id"], key) is None


def test_after_a_fix_a_refused_shipment_goes_through(tracking: Tracking) -> None:
    order = tracking.order("awaiting_shipment")
    body = shipment(order.id, carrier="UPS Ground")
    tracking.consume(body)
    assert tracking.refusal_codes() == ["unknown_carrier"]
    answer = tracking.invoke(
        {
            "job": "carrier_override",
            "shop_id": tracking.shop_id,
            "carrier": "UPS Ground",
            "shipping_provider": "UPS",
        }
    )
    assert answer["mapped"] is True
    assert failed_ids(tracking.consume(body)) == [] and len(tracking.writes()) == 1


def test_an_order_on_hold_waits_for_the_hold_to_end(tracking: Tracking) -> None:
    delays: list[tuple[str, str, int]] = []

    class Visibility:
        def delay(self, arn: str, handle: str, seconds: int) -> None:
            delays.append((arn, handle, seconds))

    from dataclasses import replace

    tracking.dependencies = replace(tracking.dependencies, visibility=Visibility())
    from tts_sync.fulfilment.runtime import override_dependencies

    override_dependencies(tracking.dependencies)
    order = tracking.order("on_hold")
    event = sqs_batch(shipment(order.id))
    assert failed_ids(tracking.invoke(event)) == [event["Records"][0]["messageId"]]
    (delay,) = delays
    assert delay[1] == event["Records"][0]["receiptHandle"] and 60 <= delay[2] <= 900
    assert tracking.writes() == [] and tracking.refusal_codes() == []
    # The hold ends: the next receive uploads it.
    tracking.sandbox.advance_order(order.id, "AWAITING_SHIPMENT", notify=False)
    assert failed_ids(tracking.invoke(event)) == [] and len(tracking.writes()) == 1


def test_invalid_messages_are_kept_with_the_reason(tracking: Tracking) -> None:
    bodies = ["not json", {"shop_id": tracking.shop_id, "order_id": "1"}]
    assert failed_ids(tracking.consume(*bodies)) == []
    refusals = tracking.store.refusals("")
    assert [r.code.value for r in refusals] == ["invalid_message", "invalid_message"]
    reasons = " ".join(r.reason for r in refusals)
    assert "body is not JSON" in reasons and "carrier: Field required" in reasons
    assert {r.body_excerpt for r in refusals} >= {"not json"}


def test_throttling_and_outages_come_back_later(tracking: Tracking) -> None:
    order = tracking.order("awaiting_shipment")
    tracking.sandbox.inject_fault("/order/202309/orders", "5xx", count=10)
    event = sqs_batch(shipment(order.id), "broken")
    assert failed_ids(tracking.invoke(event)) == [event["Records"][0]["messageId"]]  # partial
    assert tracking.writes() == []
    tracking.sandbox.faults.clear()
    assert failed_ids(tracking.invoke(sqs_batch(shipment(order.id)))) == []
    assert len(tracking.writes()) == 1
