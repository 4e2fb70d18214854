"""Moving a dead-letter queue's messages back to the queue they came from.

A message is deleted from the DLQ only after its copy was accepted by the source queue: a crash
or an error halfway leaves it in the DLQ (at worst delivered twice, which every consumer here
absorbs through its idempotency key), never lost. A message that fails again is sent back to
the DLQ by the source queue's own redrive policy.

`redrive_stack` is the one code path of `tts-sync ops redrive` and the ops function's
{"job": "redrive"}: which DLQs, what waits in each, and the failure destinations it leaves
alone. A run stops starting batches once `keep_going()` turns false (the ops function's
deadline); what it did not reach stays in the DLQ, and running it again continues.
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


# Failure destinations that are not some queue's DLQ: what their messages describe, and where
# the work they name can be found again. A redrive counts them and leaves them where they are.
FAILURE_DESTINATIONS = {
    "EventsStreamDeadLetterQueue": (
        "Events stream batches EventRouterFunction gave up on (shard and sequence range); the "
        "events themselves stay in EventsTable for 30 days"
    ),
}


def _always() -> bool:
    return True


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
    looked_at: int = 0  # messages received (counted per reason) in this run
    complete: bool = True  # False: keep_going() stopped the run before all were handled

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "source": self.source,
            "waiting": self.waiting,
            "reasons": dict(self.reasons),
            "looked_at": self.looked_at,
            "moved": self.moved,
            "failed": self.failed,
            "left": self.left,
            "complete": self.complete,
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


def select_queues(
    queues: list[DeadLetterQueue], wanted: Sequence[str] | None, stack: str
) -> list[DeadLetterQueue]:
    """The DLQs named (all when none is); a name that is not one is refused, listing them."""
    if not wanted:
        return queues
    unknown = sorted(set(wanted) - {q.logical_id for q in queues})
    if unknown:
        known = ", ".join(q.logical_id for q in queues) or "none"
        kept = [name for name in unknown if name in FAILURE_DESTINATIONS]
        note = (
            f"; {', '.join(kept)} holds failure records that redrive leaves in place"
            if kept
            else ""
        )
        raise RedriveError(f"not a dead-letter queue of {stack}: {unknown} (DLQs: {known}){note}")
    return [q for q in queues if q.logical_id in wanted]


@dataclass
class StackRedrive:
    """One redrive run over the stack's DLQs."""

    dry_run: bool
    reports: list[RedriveReport]
    not_started: list[str]  # DLQs keep_going() stopped the run before
    # Failure destinations (FAILURE_DESTINATIONS) holding messages: logical id -> count.
    left_in_place: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.not_started and all(r.complete for r in self.reports)

    @property
    def unfinished(self) -> list[str]:
        """The DLQs a next run still has work in: the one stopped midway, then the rest."""
        return [r.queue for r in self.reports if not r.complete] + self.not_started

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "queues": [r.as_dict() for r in self.reports if r.waiting or r.moved or r.failed],
            "moved": sum(r.moved for r in self.reports),
            "not_accepted": sum(r.failed for r in self.reports),
            "not_started": self.not_started,
            "left_in_place": {
                logical_id: {"waiting": count, "why": FAILURE_DESTINATIONS[logical_id]}
                for logical_id, count in self.left_in_place.items()
            },
        }


def redrive_stack(
    sqs: SQSClient,
    queue_urls: dict[str, str],
    *,
    stack: str,
    wanted: Sequence[str] | None = None,
    dry_run: bool = True,
    limit: int | None = None,
    keep_going: Callable[[], bool] = _always,
    progress: Callable[[str], Callable[[int, int], None] | None] | None = None,
) -> StackRedrive:
    """Dry run (the default): count what waits per reason per DLQ. Otherwise move up to `limit`
    messages of each DLQ back to its source queue."""
    queues = select_queues(dead_letter_queues(sqs, queue_urls), wanted, stack)
    run = StackRedrive(dry_run, [], [])
    for queue in queues:
        if not keep_going():
            run.not_started.append(queue.logical_id)
            continue
        run.reports.append(
            redrive(
                sqs,
                queue,
                dry_run=dry_run,
                limit=limit,
                progress=progress(queue.logical_id) if progress else None,
                keep_going=keep_going,
            )
        )
    for logical_id in FAILURE_DESTINATIONS:
        url = queue_urls.get(logical_id)
        if url and (count := waiting(sqs, url)):
            run.left_in_place[logical_id] = count
    return run


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
    keep_going: Callable[[], bool] = _always,
) -> RedriveReport:
    """Dry run: count what waits, per reason, moving nothing. Otherwise move up to `limit`
    messages to the source queue. No batch starts once `keep_going()` is false."""
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
            if not keep_going():
                report.complete = False
                break
            room = min(BATCH, cap - len(looked_at))
            # Taken out of sight while handled, so each receive brings new ones; a dry run
            # puts them back in sight at the end (a crash: they reappear after the timeout).
            messages = sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=room,
                VisibilityTimeout=IN_FLIGHT_SECONDS,
                MessageAttributeNames=["All"],
                AttributeNames=["ApproximateReceiveCount"],
                # Long polling asks every SQS server: a short poll samples some, and can come
                # back empty while messages wait, which would end the run as if it were done.
                # It answers at once when messages are there.
                WaitTimeSeconds=1,
            ).get("Messages", [])
            if not messages:
                break
            looked_at.extend(messages)
            report.looked_at = len(looked_at)
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


def render(run: StackRedrive) -> str:
    """What `tts-sync ops redrive` prints."""
    dry_run = run.dry_run
    reports = [r for r in run.reports if r.waiting or r.moved or r.failed]
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
    if not lines:
        lines.append("no dead-letter queue holds anything")
    for logical_id, count in run.left_in_place.items():
        meaning = FAILURE_DESTINATIONS[logical_id]
        lines.append(f"{logical_id}: {count} waiting: {meaning}; not moved by redrive")
    if dry_run and any(r.waiting for r in run.reports):
        lines.append("dry run: nothing moved; add --move to move")
    return "\n".join(lines)


__all__ = [
    "FAILURE_DESTINATIONS",
    "DeadLetterQueue",
    "RedriveError",
    "RedriveReport",
    "StackRedrive",
    "dead_letter_queues",
    "redrive",
    "redrive_stack",
    "select_queues",
]
