"""decide(): cancelled lines never ship, Ship Package never ships (or corrects) lines the
message did not name, and an ON_HOLD order's message comes back on a schedule whose total the
README states."""

from __future__ import annotations

from typing import Any

from tts_sync.fulfilment.decision import (
    ON_HOLD_SECONDS,
    Action,
    Decision,
    Refused,
    decide,
    fallback_to_package,
    on_hold_wait,
)
from tts_sync.fulfilment.models import (
    CarrierMap,
    CarrierProvider,
    FulfilmentSettings,
    RefusalCode,
    TrackingUpload,
)
from tts_sync.orders.models import UploadedShipment
from tts_sync.tiktok.models import Order, OrderLineItem

SHOP, ORDER, OPTION = "7495540735365777507", "576653688135258178", "7129736992520250113"
PAID = 1_764_600_000
NOW = PAID + 5 * 3600
CARRIERS = CarrierMap(
    shop_id=SHOP,
    providers=[
        CarrierProvider(delivery_option_id=OPTION, shipping_provider_id="P-UPS", name="UPS")
    ],
)
MAX_RECEIVES = 8  # template.yaml: TrackingUploadQueue maxReceiveCount


def line(line_id: str, package: str = "P1", tracking: str = "", **extra: Any) -> OrderLineItem:
    return OrderLineItem(
        id=line_id,
        sku_id="1",
        package_id=package,
        tracking_number=tracking,
        shipping_provider_id="P-UPS" if tracking else "",
        **extra,
    )


def order(*lines: OrderLineItem, status: str = "AWAITING_SHIPMENT", **extra: Any) -> Order:
    return Order(
        id=ORDER,
        status=status,
        create_time=PAID,
        update_time=PAID,
        paid_time=PAID,
        delivery_option_id=OPTION,
        line_items=list(lines),
        **extra,
    )


def message(tracking: str = "1Z999AA10123456784", **extra: Any) -> TrackingUpload:
    return TrackingUpload.model_validate(
        {
            "shop_id": SHOP,
            "order_id": ORDER,
            "carrier": "UPS",
            "tracking_number": tracking,
            "shipped_at": "2026-12-01T15:00:00Z",
            **extra,
        }
    )


def run(msg: TrackingUpload, o: Order, region: str = "US") -> Decision | Refused:
    return decide(
        msg,
        o,
        region=region,
        carriers=CARRIERS,
        settings=FulfilmentSettings(),
        uploaded=[],
        now=NOW,
    )


CANCELLED = {"display_status": "CANCELLED", "cancel_reason": "Out of stock"}


def test_a_whole_order_message_leaves_cancelled_lines_out() -> None:
    decision = run(message(), order(line("L1"), line("L2", **CANCELLED)))
    assert isinstance(decision, Decision) and decision.action is Action.MARK_SHIPPED
    assert decision.line_item_ids == ["L1"]
    # A line carrying only TikTok's cancel_reason is cancelled too.
    decision = run(message(), order(line("L1"), line("L2", cancel_reason="Buyer cancelled")))
    assert isinstance(decision, Decision) and decision.line_item_ids == ["L1"]


def test_naming_a_cancelled_line_is_refused() -> None:
    o = order(line("L1"), line("L2", **CANCELLED))
    refused = run(message(line_item_ids=["L1", "L2"]), o)
    assert isinstance(refused, Refused) and refused.code is RefusalCode.LINE_CANCELLED
    assert "L2" in refused.reason
    only_cancelled = run(message(), order(line("L2", **CANCELLED)))
    assert isinstance(only_cancelled, Refused)
    assert only_cancelled.code is RefusalCode.LINE_CANCELLED


def test_a_package_with_a_cancelled_line_ships_its_live_lines() -> None:
    o = order(line("L1"), line("L2", **CANCELLED))
    decision = run(message(package_id="P1"), o, region="MY")
    assert isinstance(decision, Decision) and decision.action is Action.SHIP_PACKAGE
    assert decision.line_item_ids == ["L1"]
    # Ship-package markets: naming every live line of the package is the whole package.
    decision = run(message(line_item_ids=["L1"]), o, region="MY")
    assert isinstance(decision, Decision) and decision.package_id == "P1"


def test_ship_package_is_refused_for_part_of_a_package() -> None:
    o = order(line("L1"), line("L2"))
    refused = run(message(line_item_ids=["L1"]), o, region="MY")
    assert isinstance(refused, Refused) and refused.code is RefusalCode.PARTIAL_PACKAGE
    assert "L2" in refused.reason
    # Mark shipped takes line ids: part of a package is fine there.
    decision = run(message(line_item_ids=["L1"]), o, region="US")
    assert isinstance(decision, Decision) and decision.line_item_ids == ["L1"]
    # All the package's lines, or the package itself: shipped whole.
    for msg in (message(line_item_ids=["L1", "L2"]), message(package_id="P1")):
        decision = run(msg, o, region="MY")
        assert isinstance(decision, Decision) and decision.action is Action.SHIP_PACKAGE


def test_a_correction_naming_part_of_a_shipped_package_is_refused() -> None:
    o = order(
        line("L1", tracking="1ZOLD0000000001"),
        line("L2", tracking="1ZOLD0000000001"),
        rts_time=NOW - 3600,
    )
    for region in ("MY", "US"):
        refused = run(message(line_item_ids=["L2"]), o, region=region)
        assert isinstance(refused, Refused) and refused.code is RefusalCode.PARTIAL_PACKAGE
        # Naming the package (or all its lines) corrects the whole package.
        for msg in (message(package_id="P1"), message(line_item_ids=["L1", "L2"]), message()):
            decision = run(msg, o, region=region)
            assert isinstance(decision, Decision)
            assert decision.action is Action.UPDATE_SHIPPING_INFO and decision.package_id == "P1"


def test_a_late_correction_keeps_tracking_numbers_out_of_the_reason() -> None:
    o = order(line("L1", tracking="1ZOLD0000000001"), rts_time=NOW - 100 * 3600)
    refused = run(message(), o)
    assert isinstance(refused, Refused) and refused.code is RefusalCode.CORRECTION_TOO_LATE
    assert "1ZOLD0000000001" not in refused.reason and "1Z999AA10123456784" not in refused.reason
    assert "100 h ago" in refused.reason


def on_hold_schedule(first_receive: int) -> list[int]:
    """The waits of every receive of one message while the order stays on hold."""
    o = order(line("L1"), status="ON_HOLD")
    waits, at = [], first_receive
    for _ in range(MAX_RECEIVES):
        refused = decide(
            message(),
            o,
            region="US",
            carriers=CARRIERS,
            settings=FulfilmentSettings(),
            uploaded=[],
            now=at,
        )
        assert isinstance(refused, Refused) and refused.code is RefusalCode.ORDER_ON_HOLD
        assert refused.retry_after is not None
        waits.append(refused.retry_after)
        at += refused.retry_after
    return waits


def test_an_on_hold_message_backs_off_after_the_hold_and_reaches_the_dlq_as_documented() -> None:
    # Sent at payment: four 15 min waits cover the hour, then 60 s, 5 min, 15 min, 15 min.
    waits = on_hold_schedule(PAID)
    assert waits == [900, 900, 900, 900, 60, 300, 900, 900]
    total = sum(waits)
    assert total == 5760  # README: DLQ at the earliest 1 h 36 min after payment
    assert total - ON_HOLD_SECONDS >= 30 * 60  # at least 30 min past the hold's nominal end
    # Sent late in the hold: more receives are left afterwards, so it waits longer.
    late = on_hold_schedule(PAID + 3540)
    assert 3540 + sum(late) == 9330  # README: up to ~2 h 36 min after payment
    # Never a minute apart past the nominal end (the defect: 8 receives in ~65 min).
    assert on_hold_wait(PAID, PAID + ON_HOLD_SECONDS + 600) == 900


def shipment(uploaded_at: int) -> UploadedShipment:
    return UploadedShipment(
        business_key=f"{ORDER}#package:P1#1ZOLD0000000001",
        package_id="P1",
        carrier="UPS",
        shipping_provider_id="P-UPS",
        tracking_number="1ZOLD0000000001",
        shipped_at=uploaded_at,
        uploaded_at=uploaded_at,
        action="ship_package",
    )


def correct(o: Order, uploaded: list[UploadedShipment]) -> Decision | Refused:
    return decide(
        message(package_id="P1"),
        o,
        region="US",
        carriers=CARRIERS,
        settings=FulfilmentSettings(),
        uploaded=uploaded,
        now=NOW,
    )


def test_the_72_hour_window_runs_from_the_earliest_known_shipping_time() -> None:
    shipped = line("L1", tracking="1ZOLD0000000001")
    # TikTok's rts_time is 80 h old; a later recorded upload (a correction) does not restart it.
    refused = correct(order(shipped, rts_time=NOW - 80 * 3600), [shipment(NOW - 3600)])
    assert isinstance(refused, Refused) and refused.code is RefusalCode.CORRECTION_TOO_LATE
    # Our recorded upload is the older one: it anchors the window.
    refused = correct(order(shipped, rts_time=NOW - 3600), [shipment(NOW - 73 * 3600)])
    assert isinstance(refused, Refused) and refused.code is RefusalCode.CORRECTION_TOO_LATE
    decision = correct(order(shipped, rts_time=NOW - 3600), [shipment(NOW - 7200)])
    assert isinstance(decision, Decision) and decision.action is Action.UPDATE_SHIPPING_INFO
    # Neither known: refused, not corrected blindly.
    refused = correct(order(shipped), [])
    assert isinstance(refused, Refused)
    assert refused.code is RefusalCode.CORRECTION_WINDOW_UNKNOWN


def test_the_mark_shipped_fallback_never_ships_part_of_a_package() -> None:
    o = order(line("L1"), line("L2"))
    part = run(message(line_item_ids=["L1"]), o)
    assert isinstance(part, Decision) and part.action is Action.MARK_SHIPPED
    assert fallback_to_package(part, o, message(line_item_ids=["L1"])) is None
    whole = run(message(), o)
    assert isinstance(whole, Decision)
    fallback = fallback_to_package(whole, o, message())
    assert fallback is not None and fallback.package_id == "P1"
