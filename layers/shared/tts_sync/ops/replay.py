"""Replaying stored webhook events through the Events stream's one consumer.

The Events table keeps every accepted delivery for 30 days. A replay reads the ones selected
(shop, time range, types, order ids), wraps each as the stream record the router receives for
a new item, and invokes the router with them in batches, exactly as the stream would: the same
parsing, routing, hydration and monotonic apply. Replaying what was already applied changes no
record and publishes no outbound event; what a bug fix lets through now is applied once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tts_sync.events.catalogue import BY_NUMBER, order_ids_named

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH = 100  # the stream mapping's BatchSize: the router sees what it would see live
# Invoke(event) -> the function's answer ({"batchItemFailures": [...]}); raises on a crash.
Invoker = Callable[[dict[str, Any]], Mapping[str, Any]]


class ReplayError(Exception):
    """The replay could not run as asked; the message says why."""


@dataclass(frozen=True)
class ReplaySelection:
    shop_id: str | None = None
    since: datetime | None = None  # by the envelope's timestamp (when TikTok sent it)
    until: datetime | None = None
    types: frozenset[int] = frozenset()
    order_ids: frozenset[str] = frozenset()

    def scan_filter(self) -> dict[str, Any]:
        conditions, values = [], {}
        if self.shop_id:
            conditions.append("shop_id = :shop")
            values[":shop"] = {"S": self.shop_id}
        if self.since:
            conditions.append("event_timestamp >= :since")
            values[":since"] = {"N": str(int(self.since.timestamp()))}
        if self.until:
            conditions.append("event_timestamp <= :until")
            values[":until"] = {"N": str(int(self.until.timestamp()))}
        if self.types:
            names = [f":type{n}" for n in range(len(self.types))]
            conditions.append(f"event_type IN ({', '.join(names)})")
            values.update(
                {name: {"N": str(t)} for name, t in zip(names, sorted(self.types), strict=True)}
            )
        if not conditions:
            return {}
        return {"FilterExpression": " AND ".join(conditions), "ExpressionAttributeValues": values}

    def names_an_order(self, item: Mapping[str, Any]) -> bool:
        if not self.order_ids:
            return True
        spec = BY_NUMBER.get(int(item["event_type"]["N"]))
        if spec is None:
            return False
        try:
            data = json.loads(item["payload"]["S"]).get("data")
            named = order_ids_named(spec.data_model.model_validate(data))
        except (ValueError, TypeError, AttributeError):
            return False  # an unreadable payload names nothing we can tell
        return bool(self.order_ids.intersection(named))


@dataclass
class ReplayReport:
    matched: int = 0
    sent: int = 0
    failed: list[str] = field(default_factory=list)  # event keys the router did not process

    def as_dict(self) -> dict[str, Any]:
        return {"matched": self.matched, "sent": self.sent, "failed": self.failed}


def stored_events(
    dynamodb: DynamoDBClient, table: str, selection: ReplaySelection
) -> Iterator[dict[str, Any]]:
    """The Events items selected, in the order TikTok sent them within each scanned page."""
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table, ConsistentRead=True, **selection.scan_filter()
    ):
        items = [item for item in page.get("Items", []) if selection.names_an_order(item)]
        yield from sorted(items, key=lambda item: int(item["event_timestamp"]["N"]))


def as_stream_record(item: Mapping[str, Any], sequence: int, stream_arn: str) -> dict[str, Any]:
    """The record the Events stream delivers for a new item (StreamViewType NEW_IMAGE)."""
    return {
        "eventID": f"replay-{sequence}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3] if stream_arn.count(":") >= 3 else "us-east-1",
        "eventSourceARN": stream_arn,
        "dynamodb": {
            "Keys": {"pk": item["pk"]},
            "NewImage": dict(item),
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": len(json.dumps(item)),
            "StreamViewType": "NEW_IMAGE",
        },
    }


def replay(
    items: Iterator[Mapping[str, Any]],
    invoke: Invoker,
    stream_arn: str,
    *,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    report = ReplayReport()
    batch: list[Mapping[str, Any]] = []
    for item in items:
        report.matched += 1
        batch.append(item)
        if len(batch) == BATCH:
            _send(batch, invoke, stream_arn, report)
            batch = []
            if progress:
                progress(report.sent)
    if batch:
        _send(batch, invoke, stream_arn, report)
    return report


def _send(
    batch: list[Mapping[str, Any]], invoke: Invoker, stream_arn: str, report: ReplayReport
) -> None:
    first = report.sent + 1
    records = [as_stream_record(item, first + n, stream_arn) for n, item in enumerate(batch)]
    answer = invoke({"Records": records})
    report.sent += len(records)
    by_sequence = {
        r["dynamodb"]["SequenceNumber"]: item for r, item in zip(records, batch, strict=True)
    }
    for failure in answer.get("batchItemFailures") or []:
        item = by_sequence.get(str(failure.get("itemIdentifier")))
        if item is not None:
            report.failed.append(item["pk"]["S"])
