"""Erasure paths on in-memory ports: a completion event the bus refused goes out on the retry
(once), an order order sync rewrites meanwhile is erased on its new revision, and a request
held by another run is retried rather than run twice at once."""

from __future__ import annotations

import json

import pytest

from tests.unit.privacy.builders import SHOP_ID, buyer_of, order_id_of, order_record, pii_values
from tests.unit.privacy.fakes import MemoryOrderPiiStore
from tests.unit.privacy.test_erasure_volume import memory_context
from tts_sync.orders.models import StoredOrder
from tts_sync.outbound import OutboundPublishError
from tts_sync.privacy.erasure import ErasureInProgressError, handle_request
from tts_sync.privacy.models import ReceiptStatus, parse_deletion_request


def _request(n: int) -> str:
    return json.dumps(
        {
            "request_id": f"dsr-{n}",
            "shop_id": SHOP_ID,
            "scope": "buyer",
            "buyer_user_id": buyer_of(n).user_id,
            "requested_at": "2026-12-01T10:00:00Z",
            "requester": "privacy-portal",
        }
    )


def test_a_refused_completion_event_is_published_on_the_retry_once() -> None:
    context = memory_context()
    context.orders.put(StoredOrder(record=order_record(1), revision=1))  # type: ignore[attr-defined]
    context.publisher.refuse_event_ids.add("privacy-dsr-1")  # type: ignore[attr-defined]
    request = parse_deletion_request(_request(1))
    with pytest.raises(OutboundPublishError):
        handle_request(request, context)
    receipt = context.receipts.get("dsr-1")
    assert receipt is not None and receipt.status is ReceiptStatus.COMPLETED
    assert not receipt.event_published
    context.publisher.refuse_event_ids.clear()  # type: ignore[attr-defined]
    assert handle_request(request, context).event_published
    assert handle_request(request, context).event_published
    assert [e.event_id for e in context.publisher.published] == ["privacy-dsr-1"]  # type: ignore[attr-defined]


class RacingOrders(MemoryOrderPiiStore):
    """Order sync writes a newer state (with the buyer's data) right after each read."""

    def __init__(self) -> None:
        super().__init__()
        self.races = 2

    def get(self, shop_id: str, order_id: str) -> StoredOrder | None:
        stored = super().get(shop_id, order_id)
        if stored is not None and self.races:
            self.races -= 1
            newer = StoredOrder(
                record=order_record(2, status="IN_TRANSIT"), revision=stored.revision + 1
            )
            self.put(newer)
        return stored


def test_an_order_rewritten_meanwhile_is_erased_on_its_new_revision() -> None:
    from dataclasses import replace

    orders = RacingOrders()
    orders.put(StoredOrder(record=order_record(2), revision=1))
    context = replace(memory_context(), orders=orders)
    receipt = handle_request(parse_deletion_request(_request(2)), context)
    assert receipt.erased["OrdersTable"] == 1
    stored = orders.get(SHOP_ID, order_id_of(2))
    assert stored is not None and stored.record.status == "IN_TRANSIT" and stored.revision == 4
    assert orders.races == 0  # two lost races, then erased
    for value in pii_values(2):
        assert value not in stored.model_dump_json()


def test_a_request_held_by_another_run_is_not_run_twice() -> None:
    context = memory_context()
    request = parse_deletion_request(_request(3))
    handle_request(request, context)  # opens and completes
    fresh = memory_context()
    fresh.receipts.open(
        context.receipts.get("dsr-3").model_copy(
            update={"status": ReceiptStatus.IN_PROGRESS, "erased": {}}
        )
    )  # type: ignore[union-attr]
    assert fresh.receipts.take_lease("dsr-3", "other-run", int(fresh.clock()), 360)
    with pytest.raises(ErasureInProgressError):
        handle_request(request, fresh)
