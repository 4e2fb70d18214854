"""Redrive after a fix, per SQS consumer with a DLQ, over the wire: SQS in the moto server,
TikTok Shop in the sandbox on loopback, the function's own entry logic fed the way Lambda's
SQS mapping feeds it. Messages fail for a fixable cause (a TikTok outage for one product or one
order, an unreadable pseudonym key) until the source queue's RedrivePolicy dead-letters them,
while the rest of each batch succeeds and is deleted; the cause is fixed; `tts-sync ops
redrive --move` puts them back; the consumer drains the source. Then the DLQ and the source are
empty and every message's effect happened exactly once. An invalid body in the same traffic is
refused and recorded on its first delivery: never retried, dead-lettered or redriven."""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.integration.fulfilment.conftest import Tracking, shipment
from tests.integration.fulfilment.test_tracking_upload import shipped_events
from tests.integration.ops.conftest import dead_lettered_queue, queue_depth
from tests.integration.privacy.conftest import PrivacyStack, buyer_request
from tests.integration.stock.conftest import (
    EAST,
    MUG_BLUE,
    MUG_PRODUCT,
    MUG_RED,
    TOTE,
    WEST,
    StockExport,
    level,
)
from tests.unit.privacy.builders import pii_values
from tts_local.ops_cli import run_redrive
from tts_sync.ops.target import StackTarget
from tts_sync.privacy.models import ReceiptStatus

MAX_RECEIVES = 2  # the source's maxReceiveCount (template.yaml: 5 or 8; fewer rounds here)
POISON = "{not json"


@dataclass
class SqsMapping:
    """Lambda's SQS event source mapping (ReportBatchItemFailures) over the wire: receive a
    batch, hand it to the function as Lambda builds the event, delete what succeeded. What
    failed is made visible again at once (instead of waiting out the visibility timeout); the
    queue's RedrivePolicy, applied by SQS on receive, dead-letters it after MAX_RECEIVES."""

    sqs: Any
    url: str
    function: Callable[[dict[str, Any]], dict[str, Any]]
    batch_size: int = 10
    invocations: int = 0

    def poll(self) -> bool:
        """One receive and invocation; False when nothing was received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return False
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        event = {"Records": [_lambda_record(message, arn) for message in messages]}
        self.invocations += 1
        try:
            answer = self.function(event)
            failed = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
        except BatchProcessingError:  # every record failed: Lambda retries the whole batch
            failed = {message["MessageId"] for message in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        again = [m for m in messages if m["MessageId"] in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=_entries(done))
        if again:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[{**entry, "VisibilityTimeout": 0} for entry in _entries(again)],
            )
        return True

    def drain(self, seconds: float = 5.0) -> None:
        """Poll until the source holds nothing: each message deleted or dead-lettered."""
        end = time.monotonic() + seconds
        while self.poll() or queue_depth(self.sqs, self.url):
            assert time.monotonic() < end, f"{self.url} not drained in {seconds} s"


def _lambda_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "dataType": value["DataType"],
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


def _entries(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]


@dataclass
class Consumer:
    """One consumer's source queue and DLQ, under their template.yaml logical ids."""

    sqs: Any
    target: StackTarget
    source: str
    dlq: str
    dlq_id: str
    mapping: SqsMapping

    def send(self, *bodies: str) -> dict[str, str]:
        """Body -> SQS message id."""
        return {
            body: self.sqs.send_message(QueueUrl=self.source, MessageBody=body)["MessageId"]
            for body in bodies
        }

    def dead_lettered(self) -> list[str]:
        """The DLQ's bodies, left in it (visible again at once)."""
        messages = self.sqs.receive_message(
            QueueUrl=self.dlq, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        assert len(messages) == queue_depth(self.sqs, self.dlq)  # all of them in one receive
        return sorted(m["Body"] for m in messages)

    def redrive(self, capsys: pytest.CaptureFixture[str]) -> str:
        """`tts-sync ops redrive --queue <DLQ> --move` against this stack; what it printed."""
        capsys.readouterr()
        args = argparse.Namespace(queue=[self.dlq_id], move=True, limit=None)
        assert run_redrive(self.target, args) == 0
        return capsys.readouterr().out

    def empty(self) -> bool:
        return queue_depth(self.sqs, self.source) == 0 and queue_depth(self.sqs, self.dlq) == 0


def consumer(
    endpoint: str,
    name: str,
    function: Callable[[dict[str, Any]], dict[str, Any]],
    batch_size: int = 10,
) -> Consumer:
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    source, dlq = dead_lettered_queue(
        sqs, name, max_receive_count=MAX_RECEIVES, VisibilityTimeout="30"
    )
    dlq_id = f"{name}DeadLetterQueue"
    target = StackTarget("test", {f"{name}Queue": source, dlq_id: dlq}, endpoint)
    return Consumer(sqs, target, source, dlq, dlq_id, SqsMapping(sqs, source, function, batch_size))


# ------------------------------------------------------------------ quantity exports


def _applied_inventory_writes(stock: StockExport) -> Counter[tuple[str, str, int]]:
    """(sku, warehouse, quantity) of every inventory update TikTok accepted."""
    written: Counter[tuple[str, str, int]] = Counter()
    for request in stock.inventory_calls():
        if request["status"] != 200 or request.get("code") not in (0, None):
            continue
        for sku in json.loads(request["body"])["skus"]:
            for row in sku["inventory"]:
                written[(sku["id"], row["warehouse_id"], int(row["quantity"]))] += 1
    return written


def test_quantity_levels_dead_lettered_by_a_tiktok_outage_are_exported_once_after_redrive(
    aws_endpoint: str, stock: StockExport, capsys: pytest.CaptureFixture[str]
) -> None:
    queues = consumer(aws_endpoint, "QuantityExport", stock.invoke)
    levels = [
        level("MUG-RED", 7),
        level("MUG-RED", 3, location_id="WH-WEST"),
        level("MUG-BLUE", 11),
        level("TOTE-NAT", 5, location_id="WH-WEST"),
    ]
    valid = [json.dumps(body) for body in levels]
    ids = queues.send(*valid, POISON)

    # TikTok answers 503 to every call for the mug (both SKUs): its levels fail until
    # dead-lettered; the tote's is exported on its first delivery and deleted.
    stock.sandbox.inject_fault(f"/product/202309/products/{MUG_PRODUCT}/*", "5xx", count=10_000)
    queues.mapping.drain()
    assert queues.dead_lettered() == sorted(valid[:3])
    assert {r["status"] for r in stock.inventory_calls() if MUG_PRODUCT in r["path"]} == {503}
    assert stock.tiktok_stock(MUG_RED) == {EAST: 40, WEST: 12}  # the seeded quantities
    assert stock.tiktok_stock(TOTE) == {WEST: 5}
    assert queues.mapping.invocations == MAX_RECEIVES

    stock.sandbox.clear_faults()  # the outage ends
    out = queues.redrive(capsys)
    assert "QuantityExportDeadLetterQueue: 3 waiting, moved 3" in out
    queues.mapping.drain()

    assert queues.empty()
    assert stock.tiktok_stock(MUG_RED) == {EAST: 7, WEST: 3}
    assert stock.tiktok_stock(MUG_BLUE) == {EAST: 11}
    assert stock.tiktok_stock(TOTE) == {WEST: 5}
    # Each level written once: the tote's before the outage ended, the mug's after redrive.
    assert _applied_inventory_writes(stock) == Counter(
        {(MUG_RED, EAST, 7): 1, (MUG_RED, WEST, 3): 1, (MUG_BLUE, EAST, 11): 1, (TOTE, WEST, 5): 1}
    )
    (refusal,) = stock.ledger.refusals("")  # the poison: refused once, on its first delivery
    assert (refusal.message_id, refusal.body_excerpt) == (ids[POISON], POISON)
    assert "body is not JSON" in refusal.reason


# ------------------------------------------------------------------ tracking uploads


def test_shipments_dead_lettered_by_a_tiktok_outage_ship_once_after_redrive(
    aws_endpoint: str, tracking: Tracking, capsys: pytest.CaptureFixture[str]
) -> None:
    queues = consumer(aws_endpoint, "TrackingUpload", tracking.invoke)
    whole, split = tracking.order("awaiting_shipment"), tracking.order("split")
    lines = [line.id for line in split.line_items]
    valid = [
        json.dumps(shipment(whole.id, "1ZWHOLE0001")),
        json.dumps(shipment(split.id, "1ZSPLIT0001", line_item_ids=lines[:2])),
        json.dumps(shipment(split.id, "9400SPLIT02", carrier="usps", line_item_ids=lines[2:])),
    ]
    ids = queues.send(*valid, POISON)

    # TikTok answers 503 to every fulfilment call for the split order (nothing applied): its
    # two packages fail until dead-lettered; the whole order ships on its first delivery.
    tracking.sandbox.inject_fault(f"/fulfillment/202309/orders/{split.id}/*", "5xx", count=10_000)
    queues.mapping.drain()
    assert queues.dead_lettered() == sorted(valid[1:])
    assert {r["status"] for r in tracking.writes() if split.id in r["path"]} == {503}
    assert tracking.sandbox.state.orders[split.id].status == "AWAITING_SHIPMENT"
    assert [t for _, t in tracking.tiktok_lines("awaiting_shipment")] == ["1ZWHOLE0001"] * 2

    tracking.sandbox.faults.clear()  # the outage ends
    out = queues.redrive(capsys)
    assert "TrackingUploadDeadLetterQueue: 2 waiting, moved 2" in out
    queues.mapping.drain()

    assert queues.empty()
    assert [t for _, t in tracking.tiktok_lines("awaiting_shipment")] == ["1ZWHOLE0001"] * 2
    assert [t for _, t in tracking.tiktok_lines("split")] == [
        "1ZSPLIT0001",
        "1ZSPLIT0001",
        "9400SPLIT02",
    ]
    # One accepted write per package (the whole order's before the outage ended, the split's
    # two after redrive), each shipped once with its tracking number.
    accepted = Counter(
        (r["path"].split("/")[4], json.loads(r["body"])["tracking_number"])
        for r in tracking.writes()
        if r["status"] == 200
    )
    assert accepted == Counter(
        {(whole.id, "1ZWHOLE0001"): 1, (split.id, "1ZSPLIT0001"): 1, (split.id, "9400SPLIT02"): 1}
    )
    assert len(shipped_events(tracking)) == 3  # the back office told once per package
    shipped = tracking.orders.get_many(tracking.shop_id, [whole.id, split.id])
    assert sorted(s.tracking_number for o in shipped.values() for s in o.record.shipments) == [
        "1ZSPLIT0001",
        "1ZWHOLE0001",
        "9400SPLIT02",
    ]
    (refusal,) = tracking.store.refusals("")  # the poison: refused once, on its first delivery
    assert (refusal.code.value, refusal.message_id) == ("invalid_message", ids[POISON])


# ------------------------------------------------------------------ privacy deletions


def test_deletion_requests_dead_lettered_by_an_unreadable_key_erase_once_after_redrive(
    aws_endpoint: str, privacy_stack: PrivacyStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = privacy_stack
    queues = consumer(aws_endpoint, "PrivacyDeletion", stack.invoke, batch_size=5)
    stack.seed_buyers(1, 2, 3, 4)  # buyer 4 asked for nothing
    valid = [buyer_request(n) for n in (1, 2, 3)]
    ids = queues.send(*valid, POISON)

    # The pseudonym key's secret was deleted by mistake (scheduled, recoverable): every
    # erasure fails before it changes anything, until dead-lettered.
    secrets = boto3.client("secretsmanager", endpoint_url=aws_endpoint)
    key = stack.config.pseudonym_key_secret_id
    secrets.delete_secret(SecretId=key, RecoveryWindowInDays=7)
    queues.mapping.drain()
    assert queues.dead_lettered() == sorted(valid)
    for n in (1, 2, 3):
        receipt = stack.receipts.get(f"dsr-{n:05d}")
        assert receipt is not None and receipt.status is ReceiptStatus.IN_PROGRESS
        assert receipt.erased == {}
    text = stack.everything()
    assert all(value in text for n in (1, 2, 3) for value in pii_values(n))  # nothing erased

    secrets.restore_secret(SecretId=key)  # the fix
    out = queues.redrive(capsys)
    assert f"PrivacyDeletionDeadLetterQueue: {len(valid)} waiting, moved {len(valid)}" in out
    queues.mapping.drain()

    assert queues.empty()
    text = stack.everything()
    for n in (1, 2, 3):
        receipt = stack.receipts.get(f"dsr-{n:05d}")
        assert receipt is not None and receipt.status is ReceiptStatus.COMPLETED
        assert receipt.erased == {"OrdersTable": 2, "EventsTable": 1, "QuarantineTable": 1}
        assert not any(value in text for value in pii_values(n))
    assert all(value in text for value in pii_values(4))
    # One completion event per request, and one rejection: the poison, refused on its first
    # delivery with a receipt named after its SQS message id.
    published = Counter(e.event_id for e in stack.publisher.published)
    rejected = f"invalid-{ids[POISON]}"
    assert sorted(published) == sorted(
        [f"privacy-dsr-{n:05d}" for n in (1, 2, 3)] + [f"privacy-{rejected}"]
    )
    assert set(published.values()) == {1}
    receipt = stack.receipts.get(rejected)
    assert receipt is not None and receipt.status is ReceiptStatus.REJECTED
    assert "body is not JSON" in (receipt.reason or "")
