"""When a seller-shipped order must ship: TikTok's shipping_due_time, else its rts_sla_time,
else 72 h after payment; never for orders shipped, cancelled, on hold or shipped by TikTok."""

from __future__ import annotations

import pytest

from tests.unit.orders.fakes import record, tiktok_order

HOUR = 3_600


@pytest.mark.parametrize(
    ("fields", "ship_by"),
    [
        ({"shipping_due_time": 9_000, "rts_sla_time": 8_000}, 9_000),
        ({"rts_sla_time": 8_000}, 8_000),
        ({}, 1_000 + 72 * HOUR),  # paid at 1000, TikTok gave no due time
        ({"paid_time": 0, "create_time": 500}, 500 + 72 * HOUR),
    ],
)
def test_ship_by_prefers_tiktoks_due_time_then_payment_plus_72_hours(
    fields: dict, ship_by: int
) -> None:
    assert record(tiktok_order("1", "AWAITING_SHIPMENT", 2_000, **fields)).ship_by == ship_by
    assert record(tiktok_order("1", "PARTIALLY_SHIPPING", 2_000, **fields)).ship_by == ship_by


@pytest.mark.parametrize(
    ("status", "fields"),
    [
        ("ON_HOLD", {}),
        ("UNPAID", {}),
        ("AWAITING_COLLECTION", {}),
        ("IN_TRANSIT", {}),
        ("CANCELLED", {}),
        ("AWAITING_SHIPMENT", {"shipping_type": "TIKTOK"}),
        ("AWAITING_SHIPMENT", {"fulfillment_type": "FULFILLMENT_BY_TIKTOK"}),
    ],
)
def test_nothing_to_ship_by_the_seller_has_no_ship_by(status: str, fields: dict) -> None:
    assert (
        record(tiktok_order("1", status, 2_000, shipping_due_time=9_000, **fields)).ship_by is None
    )
