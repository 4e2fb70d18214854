"""Duplicates, concurrent runs, a crash halfway and invalid requests: the same end state, no
errors, nothing dropped."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.integration.privacy.conftest import PrivacyStack, buyer_request
from tests.unit.privacy.builders import SHOP_ID, order_id_of, pii_values
from tts_sync.errors import StorageUnavailableError
from tts_sync.privacy.erasure import ErasureInProgressError, handle_request
from tts_sync.privacy.models import ReceiptStatus, parse_deletion_request


def _state(stack: PrivacyStack) -> dict[str, Any]:
    """Everything stored, with the times a rerun may move left out."""
    state: dict[str, Any] = {}
    for logical_id in ("OrdersTable", "EventsTable", "QuarantineTable"):
        items = []
        for item in stack.scan(logical_id):
            item.pop("erased_at", None)
            item.pop("expires_at", None)  # seeded at different times
            item.pop("revision", None)
            if "buyer" in item:
                item["buyer"]["M"].pop("erased_at", None)
            items.append(json.dumps(item, sort_keys=True, default=str))
        state[logical_id] = sorted(items)
    return state


def test_a_duplicate_request_changes_nothing_and_publishes_once(
    privacy_stack: PrivacyStack,
) -> None:
    stack = privacy_stack
    stack.seed_buyers(1, 2)
    assert stack.send(buyer_request(1)) == {"batchItemFailures": []}
    first = _state(stack)
    receipt = stack.receipts.get("dsr-00001")
    assert stack.send(buyer_request(1), buyer_request(1)) == {"batchItemFailures": []}
    assert _state(stack) == first
    assert stack.receipts.get("dsr-00001") == receipt
    assert len(stack.publisher.published) == 1


def test_a_crash_halfway_resumes_to_the_same_end_state(privacy_stack: PrivacyStack) -> None:
    stack = privacy_stack
    stack.seed_buyers(1, 2)

    class CrashingEvents:
        """The Events step dies after the orders were erased and checkpointed."""

        def payloads(self, shop_id: str) -> Any:
            raise StorageUnavailableError("ProvisionedThroughputExceededException")

        def replace_payload(self, *args: Any) -> None:  # pragma: no cover
            raise AssertionError

    stack.use(replace(stack.context, events=CrashingEvents()))  # type: ignore[arg-type]
    with pytest.raises(BatchProcessingError):  # the whole batch failed: SQS redelivers it
        stack.send(buyer_request(1))
    halfway = stack.receipts.get("dsr-00001")
    assert halfway is not None and halfway.status is ReceiptStatus.IN_PROGRESS
    assert halfway.erased == {"OrdersTable": 2}  # checkpointed
    assert stack.publisher.published == []

    stack.use()  # the redelivery, healthy again
    assert stack.send(buyer_request(1)) == {"batchItemFailures": []}
    done = stack.receipts.get("dsr-00001")
    assert done is not None and done.status is ReceiptStatus.COMPLETED
    assert done.erased == {"OrdersTable": 2, "EventsTable": 1, "QuarantineTable": 1}
    assert stack.send(buyer_request(2)) == {"batchItemFailures": []}
    crashed_state = _state(stack)
    text = stack.everything()
    for value in pii_values(1):
        assert value not in text
    assert [e.event_id for e in stack.publisher.published] == [
        "privacy-dsr-00001",
        "privacy-dsr-00002",
    ]

    # The same request in a stack that never crashed ends in the same state.
    twin = _twin(stack)
    assert twin == crashed_state


def _twin(stack: PrivacyStack) -> dict[str, Any]:
    for logical_id in ("OrdersTable", "EventsTable", "QuarantineTable", "PrivacyRequestsTable"):
        for item in stack.scan(logical_id):
            key = {k: item[k] for k in ("pk", "shop_id", "order_id") if k in item}
            if logical_id != "OrdersTable":
                key = {"pk": item["pk"]}
            stack.dynamodb.delete_item(TableName=stack.tables[logical_id], Key=key)
    stack.seed_buyers(1, 2)
    assert stack.send(buyer_request(1), buyer_request(2)) == {"batchItemFailures": []}
    return _state(stack)


def test_a_killed_run_leaves_a_lease_that_lapses(privacy_stack: PrivacyStack) -> None:
    stack = privacy_stack
    stack.seed_buyers(3)
    request = parse_deletion_request(buyer_request(3))
    # A run that died without releasing: its receipt and lease are stored, nothing erased.
    stack.context.receipts.open(
        __import__("tts_sync.privacy.models", fromlist=["DeletionReceipt"]).DeletionReceipt(
            request_id=request.request_id,
            status=ReceiptStatus.IN_PROGRESS,
            scope="buyer",
            shop_id=SHOP_ID,
            received_at=request.requested_at,
        )
    )
    assert stack.receipts.take_lease(request.request_id, "dead-run", int(stack.clock[0]), 360)
    with pytest.raises(ErasureInProgressError):
        handle_request(request, stack.context)
    stack.clock[0] += 361  # the lease lapses
    receipt = handle_request(request, stack.context)
    assert receipt.status is ReceiptStatus.COMPLETED
    assert receipt.erased["OrdersTable"] == 2


def test_concurrent_runs_of_one_request_end_in_one_state(privacy_stack: PrivacyStack) -> None:
    stack = privacy_stack
    stack.seed_buyers(4, 5)
    request = parse_deletion_request(buyer_request(4))
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            handle_request(request, stack.context)
            outcomes.append("done")
        except ErasureInProgressError:
            outcomes.append("busy")  # SQS redelivers it; the retry finds it completed

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "done" in outcomes and len(outcomes) == 4
    receipt = handle_request(request, stack.context)  # the retries
    assert receipt.status is ReceiptStatus.COMPLETED
    assert receipt.erased == {"OrdersTable": 2, "EventsTable": 1, "QuarantineTable": 1}
    text = stack.everything()
    for value in pii_values(4):
        assert value not in text
    for value in pii_values(5):
        assert value in text
    assert len(stack.publisher.published) >= 1
    assert {e.event_id for e in stack.publisher.published} == {"privacy-dsr-00004"}


@pytest.mark.parametrize(
    ("body", "request_id", "reason"),
    [
        ("{not json", None, "body is not JSON"),
        (
            json.dumps({"request_id": "dsr-bad-1", "scope": "buyer", "shop_id": SHOP_ID}),
            "dsr-bad-1",
            "buyer.requested_at: Field required",
        ),
    ],
)
def test_an_invalid_request_gets_a_rejected_receipt_and_is_not_retried(
    privacy_stack: PrivacyStack, body: str, request_id: str | None, reason: str
) -> None:
    stack = privacy_stack
    assert stack.send(body) == {"batchItemFailures": []}  # consumed: retrying cannot fix it
    (event,) = stack.publisher.published
    detail = event.detail
    assert detail.status == "rejected"  # type: ignore[union-attr]
    receipt = stack.receipts.get(detail.request_id)  # type: ignore[union-attr]
    assert receipt is not None and receipt.status is ReceiptStatus.REJECTED
    assert reason in receipt.reason
    if request_id:
        assert receipt.request_id == request_id
    else:
        assert receipt.request_id.startswith("invalid-")
    # A receipt-store failure is retried instead (the message would otherwise be dropped).
    assert stack.send(body)["batchItemFailures"] == []


def test_an_order_named_twice_or_missing_is_fine(privacy_stack: PrivacyStack) -> None:
    stack = privacy_stack
    stack.seed_buyers(6)
    body = buyer_request(6, order_ids=[order_id_of(6), order_id_of(6), "999999"])
    assert stack.send(body) == {"batchItemFailures": []}
    receipt = stack.receipts.get("dsr-00006")
    assert receipt is not None and receipt.erased["OrdersTable"] == 2
