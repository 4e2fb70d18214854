"""1,000 buyers across orders, stored webhooks and quarantined bodies; 100 erased through the
domain with in-memory ports (the same steps run against moto in tests/integration/privacy):
no PII of the erased buyers anywhere, the money unchanged, the other 900 untouched, and no
buyer PII in the logs."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tests.unit.privacy.builders import (
    KEY,
    SHOP_ID,
    buyer_of,
    order_id_of,
    order_record,
    pii_values,
    ready_to_ship_event,
)
from tests.unit.privacy.fakes import (
    MemoryEventPayloadStore,
    MemoryOrderPiiStore,
    MemoryQuarantineStore,
    MemoryReceiptStore,
    MemoryShopConnections,
)
from tts_sync.orders.models import StoredOrder
from tts_sync.privacy.erasure import ErasureContext, handle_request
from tts_sync.privacy.models import ReceiptStatus, parse_deletion_request
from tts_sync.privacy.redaction import pseudonym

BUYERS = 1000
ERASED = range(0, BUYERS, 10)


def memory_context() -> ErasureContext:
    return ErasureContext(
        receipts=MemoryReceiptStore(),
        orders=MemoryOrderPiiStore(),
        events=MemoryEventPayloadStore(),
        quarantine=MemoryQuarantineStore(),
        shops=MemoryShopConnections(),
        publisher=MemoryEventPublisher(),
        pseudonym_key=lambda: KEY,
        clock=time.time,
    )


def _everything(context: ErasureContext) -> str:
    orders = context.orders.orders  # type: ignore[attr-defined]
    events = context.events.items  # type: ignore[attr-defined]
    quarantine = context.quarantine.bodies_by_key  # type: ignore[attr-defined]
    receipts = context.receipts.receipts  # type: ignore[attr-defined]
    published = context.publisher.published  # type: ignore[attr-defined]
    return "\n".join(
        [
            *(s.model_dump_json() for s in orders.values()),
            *(payload for _, payload in events.values()),
            *(body.decode() for body in quarantine.values()),
            *(r.model_dump_json() for r in receipts.values()),
            *(e.model_dump_json() for e in published),
        ]
    )


def _sums(context: ErasureContext) -> tuple[Decimal, Decimal, Decimal, int]:
    orders = context.orders.orders.values()  # type: ignore[attr-defined]
    return (
        sum((Decimal(s.record.payment.total_amount) for s in orders), Decimal(0)),
        sum((Decimal(s.record.payment.tax) for s in orders), Decimal(0)),
        sum((Decimal(s.record.payment.shipping_fee) for s in orders), Decimal(0)),
        sum(len(s.record.line_items) for s in orders),
    )


def _request(n: int) -> str:
    return json.dumps(
        {
            "request_id": f"dsr-{n:05d}",
            "shop_id": SHOP_ID,
            "scope": "buyer",
            "buyer_user_id": buyer_of(n).user_id,
            "requested_at": "2026-12-01T10:00:00Z",
            "requester": "privacy-portal",
        }
    )


def seed(context: ErasureContext) -> None:
    orders: MemoryOrderPiiStore = context.orders  # type: ignore[assignment]
    for n in range(BUYERS):
        record = order_record(n)
        pending = {}
        if n % 20 == 0:
            event = ready_to_ship_event(record)
            pending[event.event_id] = event.model_dump_json()
        orders.put(StoredOrder(record=record, revision=1, pending_events=pending))
        if n % 3 == 0:
            orders.put(StoredOrder(record=order_record(n, 1), revision=1))
        context.events.items[f"n-{n}"] = (  # type: ignore[attr-defined]
            SHOP_ID,
            json.dumps({"type": 3, "shop_id": SHOP_ID, "data": {"order_id": order_id_of(n)}}),
        )
    for n in range(0, BUYERS, 5):
        body = json.dumps({"type": 3, "data": {"order_id": order_id_of(n)}})
        context.quarantine.bodies_by_key[f"webhook:{n}"] = body.encode()  # type: ignore[attr-defined]


def test_erasing_100_of_1000_buyers(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    context = memory_context()
    seed(context)
    before = _sums(context)
    kept = {
        n: context.orders.get(SHOP_ID, order_id_of(n)) for n in range(BUYERS) if n not in ERASED
    }
    assert len(kept) == 900
    for n in ERASED:
        receipt = handle_request(parse_deletion_request(_request(n)), context)
        assert receipt.status is ReceiptStatus.COMPLETED
        assert receipt.erased == {
            "OrdersTable": 2 if n % 3 == 0 else 1,
            "EventsTable": 1,
            "QuarantineTable": 1 if n % 5 == 0 else 0,
        }
    everything = _everything(context)
    for n in ERASED:
        for value in pii_values(n):
            assert value not in everything, (n, value)
        assert context.orders.get(SHOP_ID, order_id_of(n)).record.buyer.user_id == pseudonym(  # type: ignore[union-attr]
            KEY, buyer_of(n).user_id
        )
    assert _sums(context) == before
    for n, stored in kept.items():
        assert context.orders.get(SHOP_ID, order_id_of(n)) == stored
    assert len(context.publisher.published) == 100  # type: ignore[attr-defined]
    logs = capsys.readouterr().out + caplog.text
    assert "deletion request completed" in logs
    for n in range(BUYERS):
        for value in pii_values(n):
            assert value not in logs
