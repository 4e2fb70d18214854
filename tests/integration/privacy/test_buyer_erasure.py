"""Buyer-scope erasure through the function's entry point and the DynamoDB adapters against
moto: buyers seeded across orders, stored webhooks and quarantine; one in ten erased: no PII
of theirs left in any table, financial sums unchanged, the others untouched, no PII in the
logs. (The 1,000-buyer run is tests/unit/privacy/test_erasure_volume.py, on in-memory ports:
moto's scans made it take over ten minutes here.)"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.integration.privacy.conftest import PrivacyStack, buyer_request
from tests.unit.privacy.builders import (
    SHOP_ID,
    buyer_of,
    order_id_of,
    order_record,
    pii_values,
    ready_to_ship_event,
)
from tts_sync.orders.sync import SyncContext, apply_states
from tts_sync.privacy.models import ReceiptStatus
from tts_sync.privacy.redaction import pseudonym

BUYERS = 60
ERASED = range(0, BUYERS, 10)


def _sums(stack: PrivacyStack) -> dict[str, Decimal]:
    totals = {"total_amount": Decimal(0), "tax": Decimal(0), "shipping_fee": Decimal(0)}
    units = Decimal(0)
    for item in stack.scan("OrdersTable"):
        payment = item["payment"]["M"]
        for name in totals:
            totals[name] += Decimal(payment[name]["S"])
        units += len(item["line_items"]["L"])
    return {**totals, "units": units}


def _seed(stack: PrivacyStack) -> None:
    for n in range(BUYERS):
        record = order_record(n)
        pending = {}
        if n % 20 == 0:  # some orders still hold an unpublished Ready To Ship with the address
            event = ready_to_ship_event(record)
            pending[event.event_id] = event.model_dump_json()
        stack.seed_order(record, pending)
        if n % 3 == 0:  # some buyers have two orders; the request names only the buyer
            stack.seed_order(order_record(n, 1))
        stack.seed_event(
            f"n-{n}",
            {
                "type": 3,
                "tts_notification_id": f"n-{n}",
                "shop_id": SHOP_ID,
                "timestamp": 1_796_000_000,
                "data": {"order_id": order_id_of(n), "update_time": 1_796_000_000},
            },
        )
    for n in range(0, BUYERS, 5):  # quarantined bodies naming orders of erased and kept buyers
        body = json.dumps({"type": 3, "data": {"order_id": order_id_of(n)}, "x": "\xff"})
        stack.seed_quarantine(f"webhook:{n}", body.encode())


def test_erasing_one_buyer_in_ten_leaves_no_pii_and_keeps_the_money(
    privacy_stack: PrivacyStack,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack = privacy_stack
    _seed(stack)
    before = _sums(stack)
    kept_before = {n: stack.orders.get(SHOP_ID, order_id_of(n)) for n in range(1, BUYERS, 10)}

    requests = [buyer_request(n) for n in ERASED]
    for start in range(0, len(requests), 10):
        assert stack.send(*requests[start : start + 10]) == {"batchItemFailures": []}

    everything = stack.everything()
    for n in ERASED:
        for value in pii_values(n):
            assert value not in everything, (n, value)
    assert _sums(stack) == before
    for n, stored in kept_before.items():
        assert stack.orders.get(SHOP_ID, order_id_of(n)) == stored  # untouched
        for value in pii_values(n):
            assert value in everything

    key = stack.context.pseudonym_key()
    for n in ERASED:
        record = stack.orders.get(SHOP_ID, order_id_of(n))
        assert record is not None
        assert record.record.buyer.user_id == pseudonym(key, buyer_of(n).user_id)
        assert record.record.buyer.erased_at is not None
        receipt = stack.receipts.get(f"dsr-{n:05d}")
        assert receipt is not None and receipt.status is ReceiptStatus.COMPLETED
        assert receipt.erased == {
            "OrdersTable": 2 if n % 3 == 0 else 1,
            "EventsTable": 1,
            "QuarantineTable": 1 if n % 5 == 0 else 0,
        }
        assert receipt.event_published
    assert len(stack.publisher.published) == len(ERASED)
    assert {e.detail_type for e in stack.publisher.published} == {"Privacy Deletion Completed"}

    # Per-buyer counts still add up: the buyer's orders share one pseudonym.
    buyer_zero = pseudonym(key, buyer_of(0).user_id)
    assert len(stack.orders.order_ids(SHOP_ID, [buyer_zero])) == 2

    logs = capsys.readouterr().out + caplog.text
    assert "deletion request completed" in logs
    for n in range(BUYERS):
        for value in pii_values(n):
            assert value not in logs


def test_a_later_sync_of_an_erased_order_keeps_it_erased(privacy_stack: PrivacyStack) -> None:
    stack = privacy_stack
    stack.seed_order(order_record(5))
    assert stack.send(buyer_request(5)) == {"batchItemFailures": []}
    # TikTok still returns the buyer's data; a newer state arrives through order sync.
    newer = order_record(5, status="IN_TRANSIT", update_time=1_796_100_000)
    context = SyncContext(
        store=stack.orders, publisher=stack.publisher, clock=lambda: stack.clock[0]
    )
    report = apply_states(SHOP_ID, [newer], context)
    assert report.outcomes[order_id_of(5)].value == "applied"
    stored = stack.orders.get(SHOP_ID, order_id_of(5))
    assert stored is not None and stored.record.status == "IN_TRANSIT"
    assert stored.record.buyer.erased_at is not None
    text = stack.everything() + "".join(e.model_dump_json() for e in stack.publisher.published)
    for value in pii_values(5):
        assert value not in text
