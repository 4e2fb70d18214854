"""`tts-sync ops replay-quarantine` against DynamoDB over the wire (moto server): what the fixed
parser accepts is stored once and leaves the quarantine; what still fails stays, with the reason
it fails now; a dry run changes nothing; a store that cannot confirm a write stops the run with
nothing lost."""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime

import boto3
import pytest

from tts_local.ops_cli import run_replay_quarantine
from tts_sync.errors import StorageRejectedError, StorageUnavailableError
from tts_sync.events import StoredEvent
from tts_sync.ops.quarantine_replay import (
    quarantine_remover,
    quarantined_bodies,
    replay_quarantined,
)
from tts_sync.ops.target import StackTarget
from tts_sync.webhooks.dynamo_store import DynamoEventStore
from tts_sync.webhooks.envelope import parse_envelope
from tts_sync.webhooks.intake import QuarantinedDelivery

RECEIVED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def stack(aws_endpoint):
    suffix = uuid.uuid4().hex[:8]
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    tables = {}
    for logical in ("EventsTable", "QuarantineTable"):
        name = f"{logical}-{suffix}"
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        tables[logical] = name
    store = DynamoEventStore(dynamodb, tables["EventsTable"], tables["QuarantineTable"])
    return dynamodb, tables, store, StackTarget("test", tables, aws_endpoint)


def _webhook(notification_id: str, **overrides: object) -> bytes:
    document = {
        "type": 1,
        "tts_notification_id": notification_id,
        "shop_id": "7494",
        "timestamp": int(time.time()) - 5 * 86400,  # older than the intake's 48 h: still replayed
        "data": {"order_id": "576653688135258178", "order_status": "UNPAID", "update_time": 7},
    }
    document.update(overrides)
    return json.dumps(document).encode()


def _quarantine(store: DynamoEventStore, raw: bytes, reason: str) -> None:
    # What the intake kept under an older parser (or a store that refused the write).
    store.quarantine(QuarantinedDelivery(raw, reason, RECEIVED))


def _keys(dynamodb, table: str) -> set[str]:
    return {i["pk"]["S"] for i in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]}


def _args(dry_run: bool = False) -> argparse.Namespace:
    return argparse.Namespace(dry_run=dry_run)


def test_fixed_bodies_are_stored_once_and_leave_the_quarantine_the_rest_stay(stack, capsys):
    dynamodb, tables, store, target = stack
    _quarantine(store, _webhook("n-fixed"), "a reason the fix removed")
    _quarantine(store, _webhook("n-retried"), "a reason the fix removed")
    raw_retried = _webhook("n-retried")  # TikTok's own retry after the fix already stored it
    store.put_if_absent(
        StoredEvent(
            event_key="n-retried",
            envelope=parse_envelope(raw_retried),
            payload=raw_retried.decode(),
            received_at=RECEIVED,
        )
    )
    _quarantine(store, b'{"type": 1, "shop_id": "7494", "timestamp": "soon"}', "old reason")
    _quarantine(store, b"\xff not json", "body is not JSON")

    assert run_replay_quarantine(target, _args(dry_run=True)) == 1  # some still fail
    dry = capsys.readouterr().out
    assert "4 quarantined deliveries: 2 would be stored" in dry
    assert "nothing stored or removed" in dry
    assert _keys(dynamodb, tables["EventsTable"]) == {"n-retried"}
    assert len(_keys(dynamodb, tables["QuarantineTable"])) == 4

    assert run_replay_quarantine(target, _args()) == 1
    out = capsys.readouterr().out
    assert "4 quarantined deliveries: 1 stored, 1 already stored, 2 still fail" in out
    assert "timestamp" in out and "(at receipt: old reason)" in out
    assert "body is not JSON" in out
    assert _keys(dynamodb, tables["EventsTable"]) == {"n-fixed", "n-retried"}
    (fixed,) = [
        i
        for i in dynamodb.scan(TableName=tables["EventsTable"], ConsistentRead=True)["Items"]
        if i["pk"]["S"] == "n-fixed"
    ]
    assert json.loads(fixed["payload"]["S"])["tts_notification_id"] == "n-fixed"
    assert fixed["event_type"] == {"N": "1"} and fixed["shop_id"] == {"S": "7494"}
    assert fixed["received_at"]["S"] == RECEIVED.isoformat()  # when TikTok delivered it
    assert len(_keys(dynamodb, tables["QuarantineTable"])) == 2  # the two that still fail

    # A second run finds only what still fails, and stores nothing twice.
    assert run_replay_quarantine(target, _args()) == 1
    assert "2 quarantined deliveries: 0 stored, 0 already stored, 2 still fail" in (
        capsys.readouterr().out
    )


def test_a_body_the_store_still_refuses_stays_quarantined_with_the_reason(stack):
    dynamodb, tables, store, _ = stack
    _quarantine(store, _webhook("n-refused"), "DynamoDB refused the event")

    class Refusing:
        def put_if_absent(self, event):
            raise StorageRejectedError("DynamoDB refused the event: ValidationException: size")

        def quarantine(self, delivery):  # pragma: no cover - not used by a replay
            raise AssertionError

    report = replay_quarantined(
        quarantined_bodies(dynamodb, tables["QuarantineTable"]),
        Refusing(),
        quarantine_remover(dynamodb, tables["QuarantineTable"]),
    )
    assert [f.reason for f in report.still_failing] == [
        "DynamoDB refused the event: ValidationException: size"
    ]
    assert report.stored == [] and len(_keys(dynamodb, tables["QuarantineTable"])) == 1


def test_a_store_that_cannot_confirm_a_write_stops_the_run_and_loses_nothing(stack):
    dynamodb, tables, store, _ = stack
    for n in range(3):
        _quarantine(store, _webhook(f"n-{n}"), "old reason")

    class FailsOnSecond:
        calls = 0

        def put_if_absent(self, event):
            FailsOnSecond.calls += 1
            if FailsOnSecond.calls == 2:
                raise StorageUnavailableError("ProvisionedThroughputExceededException")
            return store.put_if_absent(event)

        def quarantine(self, delivery):  # pragma: no cover - not used by a replay
            raise AssertionError

    with pytest.raises(StorageUnavailableError):
        replay_quarantined(
            quarantined_bodies(dynamodb, tables["QuarantineTable"]),
            FailsOnSecond(),
            quarantine_remover(dynamodb, tables["QuarantineTable"]),
        )
    stored = _keys(dynamodb, tables["EventsTable"])
    waiting = _keys(dynamodb, tables["QuarantineTable"])
    assert len(stored) == 1 and len(waiting) == 2  # every body is in exactly one of the two
    report = replay_quarantined(
        quarantined_bodies(dynamodb, tables["QuarantineTable"]),
        store,
        quarantine_remover(dynamodb, tables["QuarantineTable"]),
    )
    assert len(report.stored) == 2 and _keys(dynamodb, tables["QuarantineTable"]) == set()
    assert _keys(dynamodb, tables["EventsTable"]) == {"n-0", "n-1", "n-2"}
