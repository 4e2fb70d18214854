"""Tracking uploads on the order's audit trail, end to end against the sandbox: each decided
outcome once (a redelivery of the message rewrites its entry, a duplicate adds none), its
package, provider, outcome and code, never the tracking number; read back by the reader the
`ops audit` job uses, after the order's earlier entries; a failed audit write fails nothing."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.fulfilment.conftest import Tracking, failed_ids, shipment, sqs_record
from tests.unit.audit.fakes import MemoryAuditLog
from tts_sync.audit.models import AuditEntry, AuditKind, iso_ms, order_subject
from tts_sync.audit.trail import order_trail, render_trail, webhook_received

TRACKING = "1Z999AA10123456784"
UPS_PROVIDER = "6617675021119438850"  # UPS on the demo delivery options


def audited(tracking: Tracking) -> MemoryAuditLog:
    log = MemoryAuditLog()
    tracking.use(audit=log)
    return log


def message(tracking: Tracking, body: dict[str, Any], sent_at: float) -> dict[str, Any]:
    """One SQS message as Lambda receives it (SentTimestamp: the same on every redelivery)."""
    record = sqs_record(body)
    record["attributes"]["SentTimestamp"] = str(int(sent_at * 1000))
    return {"Records": [record]}


def uploads(log: MemoryAuditLog) -> list[AuditEntry]:
    return [e for e in log.all() if e.kind is AuditKind.TRACKING_UPLOAD]


def assert_no_tracking_number(log: MemoryAuditLog, *numbers: str) -> None:
    text = json.dumps([e.model_dump() for e in log.all()]) + json.dumps(
        [e.sort_key for e in log.all()]
    )
    for number in numbers:
        assert number not in text


def test_a_refusal_an_upload_and_redeliveries_are_each_on_the_trail_once(
    tracking: Tracking,
) -> None:
    log = audited(tracking)
    order = tracking.order("awaiting_shipment")
    now = tracking.clock.now
    refused = message(tracking, shipment(order.id, carrier="UPS Ground"), now)
    for _ in range(2):  # the same message delivered twice: one entry
        assert failed_ids(tracking.invoke(refused)) == []
    (entry,) = uploads(log)
    assert (entry.detail["outcome"], entry.detail["code"]) == ("refused", "unknown_carrier")
    assert entry.reason.startswith("refused: ") and "accepted: UPS, USPS" in entry.reason
    assert (entry.subject, entry.shop_id, entry.order_id) == (
        order_subject(order.id),
        tracking.shop_id,
        order.id,
    )

    uploaded = message(tracking, shipment(order.id), now + 5)
    assert failed_ids(tracking.invoke(uploaded)) == [] and len(tracking.writes()) == 1
    # The same message again, and another message with the same shipment: duplicates.
    assert failed_ids(tracking.invoke(uploaded)) == []
    assert failed_ids(tracking.consume(shipment(order.id))) == []
    assert len(tracking.writes()) == 1
    first, second = uploads(log)
    assert first == entry
    assert second.detail["outcome"] == "uploaded" and second.detail["code"] is None
    assert second.detail["action"] == "mark_shipped"
    assert second.detail["provider_id"] == UPS_PROVIDER
    package_id = tracking.sandbox.state.orders[order.id].line_items[0].package_id
    assert package_id and second.detail["package_id"] == package_id
    assert abs(second.at - (now + 5)) < 0.001  # when SQS took the message (ms)
    assert_no_tracking_number(log, TRACKING)


def test_retries_keep_one_entry_then_the_upload_its_own_and_the_trail_ends_with_it(
    tracking: Tracking,
) -> None:
    log = audited(tracking)
    order = tracking.order("awaiting_shipment")
    now = tracking.clock.now
    # What the order's trail already held: its webhook and a state change, an hour before.
    webhook = webhook_received(
        shop_id=tracking.shop_id,
        order_id=order.id,
        received_at=now - 3600,
        event_key="k1",
        notification_id="n1",
        event_type=1,
        event_type_name="ORDER_STATUS_CHANGE",
        event_timestamp=int(now - 3600),
    )
    change = AuditEntry(
        subject=order_subject(order.id),
        kind=AuditKind.STATE_CHANGE,
        at=now - 3600,
        ref="r1",
        shop_id=tracking.shop_id,
        order_id=order.id,
        reason="(new) -> AWAITING_SHIPMENT",
    )
    log.record([webhook, change])

    tracking.sandbox.inject_fault("/order/202309/orders", "5xx", count=1_000)
    event = message(tracking, shipment(order.id), now)
    for _ in range(2):  # back to the queue, redelivered: the entry says the latest attempt
        assert len(failed_ids(tracking.invoke(event))) == 1
        tracking.clock.now += 30
    (retry,) = uploads(log)
    assert retry.detail["outcome"] == "retry" and retry.reason.startswith("retry: ")
    assert retry.detail["attempted_at"] == iso_ms(now + 30)
    tracking.sandbox.faults.clear()
    assert failed_ids(tracking.invoke(event)) == [] and len(tracking.writes()) == 1
    assert [e.detail["outcome"] for e in uploads(log)] == ["retry", "uploaded"]

    trail = order_trail(log, order.id)  # what the ops audit job reads
    assert [e.kind.value for e in trail.entries] == [
        "webhook_received",
        "state_change",
        "tracking_upload",
        "tracking_upload",
    ]
    text = render_trail(trail)
    assert f"provider_id={UPS_PROVIDER}" in text and "outcome=uploaded" in text
    assert TRACKING not in text + json.dumps(trail.as_dict())
    assert_no_tracking_number(log, TRACKING)


def test_a_failed_audit_write_fails_no_upload(tracking: Tracking) -> None:
    log = audited(tracking)
    log.failing = True
    order = tracking.order("awaiting_shipment")
    assert failed_ids(tracking.consume(shipment(order.id))) == []
    assert len(tracking.writes()) == 1 and log.all() == []
    record = tracking.orders.get_many(tracking.shop_id, [order.id])[order.id].record
    assert len(record.shipments) == 1
