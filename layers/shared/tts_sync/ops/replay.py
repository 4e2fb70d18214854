"""Replaying stored webhook events through the Events stream's one consumer.

The Events table keeps every accepted delivery for 30 days. A replay reads the ones selected
(shop, time range, types, order ids), wraps each as the stream record the router receives for
a new item, and invokes the router with them in batches, exactly as the stream would: the same
parsing, routing, hydration and monotonic apply. Replaying what was already applied changes no
record and publishes no outbound event; what a bug fix lets through now is applied once.

The scan runs in pages of at most BATCH items, and a batch sent to the router only ever holds
whole pages: a run that stops (`keep_going()` false: the ops function's deadline) reports the
key of the last page it finished, and a run given it as `start_after` resumes right after it,
so no event is sent twice and none is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tts_sync.events.catalogue import BY_NUMBER, order_ids_named
from tts_sync.ops.answers import listed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient

BATCH = 100  # the stream mapping's BatchSize: the router sees what it would see live
# Invoke(event) -> the function's answer ({"batchItemFailures": [...]}); raises on a crash.
Invoker = Callable[[dict[str, Any]], Mapping[str, Any]]


class ReplayError(Exception):
    """The replay could not run as asked; the message says why."""


def _always() -> bool:
    return True


def lambda_invoker(client: LambdaClient, function_name: str, *, label: str = "") -> Invoker:
    """Invoke a function synchronously (RequestResponse) and return its answer; ReplayError
    when it crashed (a function error, a timeout) or Lambda refused or never answered the
    call: the batch was not processed."""
    from botocore.exceptions import BotoCoreError, ClientError

    label = label or function_name

    def invoke(event: dict[str, Any]) -> Mapping[str, Any]:
        try:
            response = client.invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        except (BotoCoreError, ClientError) as error:
            raise ReplayError(f"{label} could not be invoked: {error}") from None
        answer = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            message = answer.get("errorMessage", answer) if isinstance(answer, dict) else answer
            raise ReplayError(f"{label} failed: {message}")
        return answer if isinstance(answer, dict) else {}

    return invoke


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
    complete: bool = True  # False: stopped (deadline or router crash); resume with start_after
    resume_after: str | None = None  # the last key of the last page finished (when stopped)
    error: str | None = None  # why the router could not take a batch, when it stopped the run

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "matched": self.matched,
            "sent": self.sent,
            **listed("failed", self.failed),
            "complete": self.complete,
        }
        if self.error:
            answer["error"] = self.error
        return answer


@dataclass(frozen=True)
class ScanPage:
    items: list[dict[str, Any]]  # the page's selected items, in the order TikTok sent them
    last_key: str | None  # the scan's LastEvaluatedKey after this page; None: the last page


def stored_event_pages(
    dynamodb: DynamoDBClient,
    table: str,
    selection: ReplaySelection,
    *,
    start_after: str | None = None,
) -> Iterator[ScanPage]:
    """The Events items selected, page by page (at most BATCH items scanned per page), from
    just after the key `start_after` when given."""
    request: dict[str, Any] = {
        "TableName": table,
        "ConsistentRead": True,
        "Limit": BATCH,
        **selection.scan_filter(),
    }
    if start_after:
        request["ExclusiveStartKey"] = {"pk": {"S": start_after}}
    while True:
        page = dynamodb.scan(**request)
        items = [item for item in page.get("Items", []) if selection.names_an_order(item)]
        last = page.get("LastEvaluatedKey")
        yield ScanPage(
            sorted(items, key=lambda item: int(item["event_timestamp"]["N"])),
            str(last["pk"]["S"]) if last else None,
        )
        if not last:
            return
        request["ExclusiveStartKey"] = last


def stored_events(
    dynamodb: DynamoDBClient, table: str, selection: ReplaySelection
) -> Iterator[dict[str, Any]]:
    """The Events items selected, in the order TikTok sent them within each scanned page."""
    for page in stored_event_pages(dynamodb, table, selection):
        yield from page.items


def count_stored_events(
    pages: Iterable[ScanPage], *, keep_going: Callable[[], bool] = _always
) -> ReplayReport:
    """A dry run: how many stored events match, nothing sent."""
    report = ReplayReport()
    last_key: str | None = None
    for page in pages:
        report.matched += len(page.items)
        last_key = page.last_key
        if last_key is not None and not keep_going():
            report.complete, report.resume_after = False, last_key
            break
    return report


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
    pages: Iterable[ScanPage],
    invoke: Invoker,
    stream_arn: str,
    *,
    keep_reading: Callable[[], bool] = _always,
    keep_going: Callable[[], bool] = _always,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Each page's items to the router in batches of at most BATCH whole pages.

    `keep_reading()` decides before each page is read and `keep_going()` before each batch is
    sent; give keep_reading the stricter budget (one page more than a send), so a run that stops
    reading still sends what it gathered: every run moves the resume point forward, even one
    whose filter matches a single event in a large table. Pages that match nothing move it
    forward too. A router crash stops the run at the last batch it processed, with the reason.
    """
    report = ReplayReport()
    batch: list[Mapping[str, Any]] = []
    pending_through: str | None = None  # the last key of the pages read so far
    sent_through: str | None = None  # every page through this key is done: the resume point

    def send() -> bool:
        nonlocal batch, sent_through
        if batch:
            if not keep_going():
                return False
            try:
                _send(batch, invoke, stream_arn, report)
            except ReplayError as error:
                report.error = str(error)
                return False
            batch = []
            if progress:
                progress(report.sent)
        sent_through = pending_through
        return True

    finished = stopped = False
    for page in _until(pages, keep_reading):
        if len(batch) + len(page.items) > BATCH and not send():
            stopped = True  # this page was read but not taken: the resumed run reads it again
            break
        batch.extend(page.items)
        report.matched += len(page.items)
        pending_through = page.last_key
        if not batch:
            sent_through = pending_through  # nothing matched so far: nothing to send first
        if page.last_key is None:  # the last page
            finished = True
            break
    if not stopped and not send():
        stopped = True
    if stopped or not finished:
        report.matched -= len(batch)  # read but not sent: the resumed run reads them again
        # None: no page was finished; the resumed run starts where this one did.
        report.complete, report.resume_after = False, sent_through
    return report


def _until(pages: Iterable[ScanPage], keep_reading: Callable[[], bool]) -> Iterator[ScanPage]:
    for page in pages:
        yield page
        if page.last_key is not None and not keep_reading():
            return


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
