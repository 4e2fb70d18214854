"""Shop scope, the deauthorization grace period, the retention sweep, the completion deadline
and reading receipts (console event, CLI), against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.integration.privacy.conftest import PrivacyStack, buyer_request
from tests.support import REPO_ROOT
from tests.unit.privacy.builders import SHOP_ID, order_id_of, order_record, pii_values
from tts_sync.privacy.models import DeletionReceipt, ReceiptStatus
from tts_sync.shops.models import Shop, ShopStatus, ShopTokens

DAY = 86_400
OTHER_SHOP = "7495540735365770000"


def _shop(stack: PrivacyStack, shop_id: str, authorized_at: int) -> None:
    stack.shops.save_authorization(
        Shop(
            shop_id=shop_id,
            cipher=f"cipher-{shop_id}",
            tokens=ShopTokens(
                access_token="TTP_access",  # type: ignore[arg-type]
                access_token_expires_at=authorized_at + 7 * DAY,
                refresh_token="TTP_refresh",  # type: ignore[arg-type]
                refresh_token_expires_at=authorized_at + 60 * DAY,
            ),
            authorized_at=authorized_at,
        )
    )


def _shop_orders(stack: PrivacyStack, shop_id: str, *buyers: int) -> None:
    for n in buyers:
        stack.seed_order(order_record(n).model_copy(update={"shop_id": shop_id}))
        stack.seed_event(
            f"{shop_id}-{n}",
            {"type": 1, "shop_id": shop_id, "data": {"order_id": order_id_of(n)}},
            shop_id,
        )
    stack.seed_quarantine(f"webhook:{shop_id}", json.dumps({"shop_id": shop_id}).encode())


def _shop_request(shop_id: str, request_id: str = "dsr-shop-1") -> str:
    return json.dumps(
        {
            "request_id": request_id,
            "shop_id": shop_id,
            "scope": "shop",
            "requested_at": "2026-12-01T10:00:00Z",
            "requester": "privacy-portal",
        }
    )


def test_shop_scope_disconnects_and_erases_every_order(privacy_stack: PrivacyStack) -> None:
    stack = privacy_stack
    now = int(stack.clock[0])
    _shop(stack, SHOP_ID, now - DAY)
    _shop(stack, OTHER_SHOP, now - DAY)
    _shop_orders(stack, SHOP_ID, 1, 2, 3)
    _shop_orders(stack, OTHER_SHOP, 4)
    assert stack.send(_shop_request(SHOP_ID)) == {"batchItemFailures": []}
    receipt = stack.receipts.get("dsr-shop-1")
    assert receipt is not None and receipt.status is ReceiptStatus.COMPLETED
    assert receipt.erased == {
        "ShopsTable": 1,
        "OrdersTable": 3,
        "EventsTable": 3,
        "QuarantineTable": 1,
    }
    shop = stack.shops.get(SHOP_ID)
    assert shop is not None and shop.status is ShopStatus.DEAUTHORIZED and shop.tokens is None
    other = stack.shops.get(OTHER_SHOP)
    assert other is not None and other.usable
    text = stack.everything()
    for n in (1, 2, 3):
        for value in pii_values(n):
            assert value not in text
    for value in pii_values(4):
        assert value in text
    # A duplicate changes nothing (the shop stays disconnected, counts unchanged).
    assert stack.send(_shop_request(SHOP_ID)) == {"batchItemFailures": []}
    assert stack.receipts.get("dsr-shop-1") == receipt.model_copy(update={"event_published": True})


def test_deauthorized_shops_are_erased_after_the_grace_period_only(
    privacy_stack: PrivacyStack,
) -> None:
    stack = privacy_stack
    now = int(stack.clock[0])
    long_ago, recently = "7495540735365771111", "7495540735365772222"
    reauthorized = "7495540735365773333"
    for shop_id, buyer in ((long_ago, 11), (recently, 12), (reauthorized, 13)):
        _shop(stack, shop_id, now - 90 * DAY)
        _shop_orders(stack, shop_id, buyer)
    # Type 6 marks (tokens dropped at once); one seller came back within the grace period.
    assert stack.shops.mark(
        long_ago, ShopStatus.DEAUTHORIZED, "seller_deauthorized", now - 31 * DAY, event_time=None
    )
    assert stack.shops.mark(
        recently, ShopStatus.DEAUTHORIZED, "seller_deauthorized", now - 10 * DAY, event_time=None
    )
    assert stack.shops.mark(
        reauthorized,
        ShopStatus.DEAUTHORIZED,
        "seller_deauthorized",
        now - 40 * DAY,
        event_time=None,
    )
    _shop(stack, reauthorized, now - 20 * DAY)

    result = stack.job({"job": "deauthorized_shops"})
    assert result["requests"] == [f"deauthorization-{long_ago}-{now - 31 * DAY}"]
    text = stack.everything()
    for value in pii_values(11):
        assert value not in text
    for buyer in (12, 13):
        for value in pii_values(buyer):
            assert value in text
    receipt = stack.receipts.get(result["requests"][0])
    assert receipt is not None and receipt.requester == "deauthorization"
    assert receipt.erased["OrdersTable"] == 1 and receipt.erased["ShopsTable"] == 0
    assert stack.job({"job": "deauthorized_shops"})["requests"] == result["requests"]
    assert len(stack.publisher.published) == 1


def test_the_retention_sweep_erases_old_finished_orders_only(privacy_stack: PrivacyStack) -> None:
    stack = privacy_stack
    now = int(stack.clock[0])
    stack.seed_order(order_record(21, status="COMPLETED", update_time=now - 91 * DAY))
    stack.seed_order(order_record(22, status="CANCELLED", update_time=now - 200 * DAY))
    stack.seed_order(order_record(23, status="COMPLETED", update_time=now - 30 * DAY))
    stack.seed_order(order_record(24, status="AWAITING_SHIPMENT", update_time=now - 120 * DAY))
    before = {n: stack.orders.get(SHOP_ID, order_id_of(n)) for n in (21, 22)}
    assert stack.job({"job": "retention"}) == {
        "job": "retention",
        "erased_orders": 2,
        "deferred": False,
    }
    text = stack.everything()
    for n in (21, 22):
        for value in pii_values(n):
            assert value not in text
        after = stack.orders.get(SHOP_ID, order_id_of(n))
        assert after is not None and after.record.payment == before[n].record.payment  # type: ignore[union-attr]
        assert after.record.line_items == before[n].record.line_items  # type: ignore[union-attr]
    for n in (23, 24):
        for value in pii_values(n):
            assert value in text
    assert stack.job({"job": "retention"})["erased_orders"] == 0  # resumable, idempotent


def test_overdue_requests_raise_the_deadline_metric(
    privacy_stack: PrivacyStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = privacy_stack
    now = stack.clock[0]
    for request_id, age_days, status in (
        ("dsr-old", 8, ReceiptStatus.IN_PROGRESS),
        ("dsr-new", 1, ReceiptStatus.IN_PROGRESS),
        ("dsr-done", 30, ReceiptStatus.COMPLETED),
    ):
        stack.receipts.open(
            DeletionReceipt(
                request_id=request_id,
                status=status,
                received_at=datetime.fromtimestamp(now - age_days * DAY, UTC),
            )
        )
    capsys.readouterr()
    assert stack.job({"job": "deadlines"}) == {"job": "deadlines", "overdue": ["dsr-old"]}
    output = capsys.readouterr().out.replace(" ", "")
    # The alarm's metric, and the dashboard's gauge of every request still open.
    assert '"PrivacyDeletionOverdue":[1.0]' in output
    assert '"PrivacyRequestsOpen":[2.0]' in output


def test_ops_read_a_receipt_from_the_console_and_the_cli(
    privacy_stack: PrivacyStack, capsys: pytest.CaptureFixture[str]
) -> None:
    from tts_local.cli import main

    stack = privacy_stack
    stack.seed_order(order_record(31))
    assert stack.send(buyer_request(31, request_id="dsr-2026-0001")) == {"batchItemFailures": []}
    console = json.loads((REPO_ROOT / "events/console/privacy_deletion_receipt.json").read_text())
    shown = stack.job(console)
    assert shown["found"] is True and shown["status"] == "completed"
    assert shown["erased"]["OrdersTable"] == 1
    assert stack.job({"job": "receipt", "request_id": "dsr-none"}) == {
        "request_id": "dsr-none",
        "found": False,
    }
    capsys.readouterr()
    table = stack.tables["PrivacyRequestsTable"]
    assert main(["privacy", "receipt", "dsr-2026-0001", "--table", table]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["request_id"] == "dsr-2026-0001" and printed["status"] == "completed"
    assert not any(value in json.dumps(printed) for value in pii_values(31))
    assert main(["privacy", "receipt", "dsr-none", "--table", table]) == 1
    assert main(["privacy", "receipt", "dsr-none", "--table", ""]) == 2
