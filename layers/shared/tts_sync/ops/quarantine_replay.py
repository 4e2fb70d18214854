"""Replaying quarantined webhook deliveries after a fix.

A delivery is quarantined when its signature was valid but its body could not become work (a
body the envelope parser refused, or one DynamoDB refused to store). Once a fix is deployed,
each kept body goes through the intake's own steps again: `parse_envelope`, then the one
conditional write to the Events table (`DynamoEventStore.put_if_absent`), whose stream hands it
to the router exactly as a live delivery. The signature is not checked again (it was at
receipt, and the headers are not kept), nor the 48 h staleness rule (an operator asked for
these). A body that is stored, or that was already stored (TikTok's own retry after the fix),
leaves the quarantine; one that still fails stays, with the reason it fails now.

Run it from the release that is deployed: the parser used is this package's.

The quarantine is read in scan order; a run stopped by `keep_going()` (the ops function's
deadline) reports the last key it examined, and a run from there (`start_after`, the scan's
ExclusiveStartKey) examines only the bodies after it: a body that still fails is not examined
twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tts_sync.errors import StorageRejectedError
from tts_sync.events import StoredEvent
from tts_sync.ops.answers import listed
from tts_sync.webhooks.envelope import InvalidPayloadError, parse_envelope
from tts_sync.webhooks.intake import EventStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class QuarantinedBody:
    key: str  # the QuarantineTable pk: webhook:<sha256 of the body>
    reason: str  # why it was quarantined at receipt
    received_at: datetime
    raw_body: bytes


@dataclass(frozen=True)
class StillFailing:
    key: str
    reason: str  # why it fails now (no body data)
    reason_at_receipt: str


@dataclass
class QuarantineReplayReport:
    examined: int = 0
    stored: list[str] = field(default_factory=list)  # Events keys now stored (or would be)
    already_stored: list[str] = field(default_factory=list)
    still_failing: list[StillFailing] = field(default_factory=list)
    complete: bool = True  # False: stopped by keep_going(); resume after last_examined
    last_examined: str | None = None

    def as_dict(self) -> dict[str, Any]:
        still_failing = [
            {"key": s.key, "reason": s.reason, "reason_at_receipt": s.reason_at_receipt}
            for s in self.still_failing
        ]
        return {
            "complete": self.complete,
            "examined": self.examined,
            **listed("stored", self.stored),
            **listed("already_stored", self.already_stored),
            **listed("still_failing", still_failing),
        }


def replay_quarantined(
    bodies: Iterable[QuarantinedBody],
    store: EventStore,
    remove: Callable[[str], None],
    *,
    dry_run: bool = False,
    keep_going: Callable[[], bool] = lambda: True,
) -> QuarantineReplayReport:
    """Each body through the intake's parse and write again. StorageUnavailableError (the store
    could not confirm a write) stops the run: what was not yet examined stays quarantined.
    No body is started once `keep_going()` is false."""
    report = QuarantineReplayReport()
    for body in bodies:
        if not keep_going():
            report.complete = False
            break
        report.examined += 1
        report.last_examined = body.key
        try:
            envelope = parse_envelope(body.raw_body)
        except InvalidPayloadError as exc:
            report.still_failing.append(StillFailing(body.key, exc.reason, body.reason))
            continue
        event = StoredEvent(
            event_key=envelope.event_key,
            envelope=envelope,
            payload=body.raw_body.decode("utf-8"),  # parse_envelope accepted it as UTF-8
            received_at=body.received_at,
        )
        if dry_run:
            report.stored.append(event.event_key)
            continue
        try:
            stored = store.put_if_absent(event)
        except StorageRejectedError as exc:
            report.still_failing.append(StillFailing(body.key, exc.reason, body.reason))
            continue
        (report.stored if stored else report.already_stored).append(event.event_key)
        remove(body.key)  # only once the Events table holds it
    return report


def quarantined_bodies(
    dynamodb: DynamoDBClient, table: str, *, start_after: str | None = None
) -> Iterator[QuarantinedBody]:
    """Every quarantined webhook body (consistent reads; items past their TTL are skipped), in
    scan order, from just after the key `start_after` when given (it may have been removed)."""
    now = datetime.now(UTC).timestamp()
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    if start_after:
        request["ExclusiveStartKey"] = {"pk": {"S": start_after}}
    for page in _scan(dynamodb, request):
        for item in page.get("Items", []):
            if item.get("source", {}).get("S", "webhook") != "webhook":
                continue
            expires_at = item.get("expires_at", {}).get("N")
            if expires_at is not None and float(expires_at) < now:
                continue  # expired, awaiting TTL deletion: may hold PII past its retention
            received = item.get("received_at", {}).get("S")
            yield QuarantinedBody(
                key=item["pk"]["S"],
                reason=item.get("reason", {}).get("S", ""),
                received_at=datetime.fromisoformat(received) if received else datetime.now(UTC),
                raw_body=bytes(item.get("raw_body", {}).get("B", b"")),
            )


def _scan(dynamodb: DynamoDBClient, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        page = dynamodb.scan(**request)
        yield dict(page)
        if not page.get("LastEvaluatedKey"):
            return
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def quarantine_remover(dynamodb: DynamoDBClient, table: str) -> Callable[[str], None]:
    def remove(key: str) -> None:
        dynamodb.delete_item(TableName=table, Key={"pk": {"S": key}})

    return remove
