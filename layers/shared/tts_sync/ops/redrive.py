"""Moving a dead-letter queue's messages back to the queue they came from.

A message is deleted from the DLQ only after its copy was accepted by the source queue: a crash
or an error halfway leaves it in the DLQ (at worst delivered twice, which every consumer here
absorbs through its idempotency key), never lost. A message that fails again is sent back to
the DLQ by the source queue's own redrive policy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SQS's most per receive / send / delete call
# Long enough for one batch to be sent on and deleted; a stalled run lets them reappear.
IN_FLIGHT_SECONDS = 120
# Attributes EventBridge and our consumers set on what they dead-letter.
REASON_ATTRIBUTES = ("reason", "ERROR_CODE", "error")


class RedriveError(Exception):
    """The queues cannot be redriven as asked; the message says why."""


@dataclass(frozen=True)
class DeadLetterQueue:
    logical_id: str
    url: str
    arn: str
    source_urls: tuple[str, ...]


@dataclass
class RedriveReport:
    queue: str
    source: str | None
    waiting: int
    reasons: Counter[str] = field(default_factory=Counter)
    moved: int = 0
    failed: int = 0
    left: int = 0  # stream failure records: they stay in the DLQ

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "source": self.source,
            "waiting": self.waiting,
            "reasons": dict(self.reasons),
            "moved": self.moved,
            "failed": self.failed,
            "left": self.left,
        }


def dead_letter_queues(sqs: SQSClient, queue_urls: dict[str, str]) -> list[DeadLetterQueue]:
    """Every queue of the stack that some other queue dead-letters into, with its sources."""
    found = []
    for logical_id, url in sorted(queue_urls.items()):
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sources = sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", [])
        if sources:
            found.append(DeadLetterQueue(logical_id, url, arn, tuple(sorted(sources))))
    return found


def waiting(sqs: SQSClient, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


def is_failure_record(message: Mapping[str, Any]) -> bool:
    """A stream mapping's on-failure record (it describes a failed batch: shard, sequence
    range), not a message of the source queue: moving it there would only be refused."""
    return '"DDBStreamBatchInfo"' in str(message.get("Body", ""))


def reason_of(message: Mapping[str, Any]) -> str:
    if is_failure_record(message):
        return "stream batch failure record (not movable)"
    attributes = message.get("MessageAttributes") or {}
    for name in REASON_ATTRIBUTES:
        value = attributes.get(name, {}).get("StringValue")
        if value:
            return value
    receives = (message.get("Attributes") or {}).get("ApproximateReceiveCount")
    return "consumer kept failing" + (f" (received {receives}x)" if receives else "")


def redrive(
    sqs: SQSClient,
    queue: DeadLetterQueue,
    *,
    dry_run: bool,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RedriveReport:
    """Dry run: count what waits, per reason, moving nothing. Otherwise move up to `limit`
    messages to the source queue."""
    if len(queue.source_urls) != 1:
        raise RedriveError(
            f"{queue.logical_id} is the DLQ of {len(queue.source_urls)} queues; "
            "its messages do not say which one they came from"
        )
    (source,) = queue.source_urls
    report = RedriveReport(queue.logical_id, source, waiting(sqs, queue.url))
    looked_at: list[Mapping[str, Any]] = []
    # At most what waited when the run began: a message that fails again in the source and
    # comes back during the run is left for the next run, not moved round in a loop.
    cap = report.waiting if limit is None else min(limit, report.waiting)
    try:
        while len(looked_at) < cap:
            room = min(BATCH, cap - len(looked_at))
            # Taken out of sight while handled, so each receive brings new ones; a dry run
            # puts them back in sight at the end (a crash: they reappear after the timeout).
            messages = sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=room,
                VisibilityTimeout=IN_FLIGHT_SECONDS,
                MessageAttributeNames=["All"],
                AttributeNames=["ApproximateReceiveCount"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not messages:
                break
            looked_at.extend(messages)
            report.reasons.update(reason_of(m) for m in messages)
            if not dry_run:
                movable = [m for m in messages if not is_failure_record(m)]
                report.left += len(messages) - len(movable)
                if movable:
                    _move(sqs, queue.url, source, movable, report)
                if progress:
                    progress(report.moved + report.failed, report.waiting)
    finally:
        if dry_run:
            _show_again(sqs, queue.url, looked_at)
    return report


def _show_again(sqs: SQSClient, url: str, messages: Sequence[Mapping[str, Any]]) -> None:
    for start in range(0, len(messages), BATCH):
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(index),
                    "ReceiptHandle": message["ReceiptHandle"],
                    "VisibilityTimeout": 0,
                }
                for index, message in enumerate(messages[start : start + BATCH])
            ],
        )


def _move(
    sqs: SQSClient,
    dlq_url: str,
    source_url: str,
    messages: Sequence[Mapping[str, Any]],
    report: RedriveReport,
) -> None:
    entries = [
        {
            "Id": str(index),
            "MessageBody": message["Body"],
            **(
                {"MessageAttributes": _sendable(message["MessageAttributes"])}
                if message.get("MessageAttributes")
                else {}
            ),
        }
        for index, message in enumerate(messages)
    ]
    sent = sqs.send_message_batch(QueueUrl=source_url, Entries=entries)  # type: ignore[arg-type]
    accepted = {int(entry["Id"]) for entry in sent.get("Successful", [])}
    report.failed += len(messages) - len(accepted)
    if not accepted:
        return
    deleted = sqs.delete_message_batch(
        QueueUrl=dlq_url,
        Entries=[
            {"Id": str(index), "ReceiptHandle": messages[index]["ReceiptHandle"]}
            for index in sorted(accepted)
        ],
    )
    # A copy sent whose DLQ original could not be deleted comes back: counted as moved (the
    # source has it); its second delivery is absorbed by the consumer's idempotency.
    report.moved += len(accepted)
    if deleted.get("Failed"):
        report.reasons.update({"moved, DLQ copy not deleted": len(deleted["Failed"])})


def _sendable(attributes: dict[str, Any]) -> dict[str, Any]:
    # Received attributes carry list fields SendMessage refuses when empty.
    return {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in attributes.items()
    }


def render(reports: list[RedriveReport], dry_run: bool) -> str:
    lines = []
    for report in reports:
        verb = "would move" if dry_run else "moved"
        count = report.waiting if dry_run else report.moved
        lines.append(f"{report.queue}: {report.waiting} waiting, {verb} {count} -> {report.source}")
        lines.extend(f"  {n:>6}  {reason}" for reason, n in report.reasons.most_common())
        if report.failed:
            lines.append(f"  {report.failed} not accepted by the source queue: still in the DLQ")
        if report.left:
            lines.append(f"  {report.left} stream failure records left in the DLQ (not movable)")
    return "\n".join(lines) if lines else "no dead-letter queue holds anything"


__all__ = ["DeadLetterQueue", "RedriveError", "RedriveReport", "dead_letter_queues", "redrive"]
