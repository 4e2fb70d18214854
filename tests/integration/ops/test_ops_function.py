"""The ops function (functions/ops/app.py) through its handler, with SQS and DynamoDB on the moto
server and EventRouterFunction's real entry logic as the invoked function: a redrive dry run
then a move, a replay that is idempotent, runs stopped by the deadline that say how to
continue (and continuing does nothing twice), and a quarantine replay that reports what still
fails."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.integration.ops.conftest import drain, poison
from tests.integration.orders.conftest import OrderSync, create_tables
from tests.integration.orders.test_order_replay import RED, _store_webhooks
from tests.integration.shops.conftest import emitted_metrics
from tests.support import FakeLambdaContext, load_function
from tts_sync.config import read_config
from tts_sync.container import reset_container
from tts_sync.events.router import handle_events_stream
from tts_sync.ops import replay as replay_module
from tts_sync.ops.runtime import OpsConfig, OpsDependencies, override_dependencies
from tts_sync.webhooks.dynamo_store import DynamoEventStore
from tts_sync.webhooks.intake import QuarantinedDelivery

app = load_function("ops")


class RunningOutContext(FakeLambdaContext):
    """A Lambda context with plenty of time until `run_out()` is called, then 8 s: under
    every step's budget (with the handler's 5 s reserve)."""

    def __init__(self) -> None:
        super().__init__(remaining_ms=800_000)
        self.remaining_ms = 800_000

    def run_out(self) -> None:
        self.remaining_ms = 8_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def ops(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A source queue dead-lettering into its DLQ, the stream's failure queue, the Events and
    Quarantine tables: the ops function's environment as template.yaml builds it."""
    sqs = boto3.client("sqs", endpoint_url=aws_endpoint)
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"work-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = sqs.create_queue(QueueName=f"work-{suffix}", Attributes={"RedrivePolicy": policy})[
        "QueueUrl"
    ]
    stream_dlq = sqs.create_queue(QueueName=f"stream-dlq-{suffix}")["QueueUrl"]
    tables = create_tables(dynamodb, "EventsTable", "QuarantineTable")
    queues = {
        "WorkQueue": source,
        "WorkDeadLetterQueue": dlq,
        "EventsStreamDeadLetterQueue": stream_dlq,
    }
    monkeypatch.setenv("OPS_QUEUE_URLS", json.dumps(queues))
    monkeypatch.setenv("EVENTS_TABLE_NAME", tables["EventsTable"])
    monkeypatch.setenv("QUARANTINE_TABLE_NAME", tables["QuarantineTable"])
    monkeypatch.setenv("EVENT_ROUTER_FUNCTION_NAME", "tts-sync-test-event-router")
    reset_container()
    yield {"sqs": sqs, "dynamodb": dynamodb, "queues": queues, "tables": tables}
    override_dependencies(None)
    reset_container()


def _invoke(event: dict[str, Any], context: FakeLambdaContext | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = app.lambda_handler(event, context or FakeLambdaContext(800_000))
    json.dumps(answer)  # what the console shows: JSON
    return answer


def test_a_redrive_dry_run_counts_per_reason_then_a_move_moves_every_message_once(ops):
    sqs, queues = ops["sqs"], ops["queues"]
    bodies = poison(sqs, queues["WorkDeadLetterQueue"], 12, throttled_every=5)
    failure_record = json.dumps({"DDBStreamBatchInfo": {"shardId": "shard-1", "batchSize": 3}})
    sqs.send_message(QueueUrl=queues["EventsStreamDeadLetterQueue"], MessageBody=failure_record)

    dry = _invoke({"job": "redrive"})
    assert dry["complete"] is True and dry["dry_run"] is True and dry["moved"] == 0
    (queue,) = dry["queues"]
    assert (queue["queue"], queue["waiting"], queue["source"]) == (
        "WorkDeadLetterQueue",
        12,
        queues["WorkQueue"],
    )
    assert queue["reasons"] == {"SQS.Throttled": 3, "consumer kept failing (received 1x)": 9}
    assert dry["left_in_place"]["EventsStreamDeadLetterQueue"]["waiting"] == 1
    assert "stay in EventsTable" in dry["left_in_place"]["EventsStreamDeadLetterQueue"]["why"]
    assert "note" in dry and drain(sqs, queues["WorkQueue"]) == []
    assert '{"n": ' not in json.dumps(dry)  # counts and reasons, never bodies

    moved = _invoke({"job": "redrive", "queues": ["WorkDeadLetterQueue"], "move": True})
    assert (moved["complete"], moved["moved"], moved["not_accepted"]) == (True, 12, 0)
    assert sorted(drain(sqs, queues["WorkQueue"])) == sorted(bodies)
    assert drain(sqs, queues["WorkDeadLetterQueue"]) == []
    assert drain(sqs, queues["EventsStreamDeadLetterQueue"]) == [failure_record]  # stays


def test_a_redrive_of_a_queue_that_is_no_dlq_is_refused_listing_the_dlqs(ops):
    with pytest.raises(Exception, match=r"WorkQueue.*DLQs: WorkDeadLetterQueue") as raised:
        _invoke({"job": "redrive", "queues": ["WorkQueue"], "move": True})
    assert type(raised.value).__name__ == "InvalidOpsEventError"
    with pytest.raises(Exception, match="holds failure records that redrive leaves in place"):
        _invoke({"job": "redrive", "queues": ["EventsStreamDeadLetterQueue"]})


def test_a_redrive_stopped_by_the_deadline_says_how_to_continue_and_moves_nothing_twice(
    ops, monkeypatch, capsys
):
    sqs, queues = ops["sqs"], ops["queues"]
    bodies = poison(sqs, queues["WorkDeadLetterQueue"], 25, throttled_every=5)
    context = RunningOutContext()
    real_send = sqs.send_message_batch
    sends = 0

    def send_then_run_out(**kwargs: Any) -> Any:
        nonlocal sends
        sends += 1
        if sends == 2:
            context.run_out()  # the second batch is the last one that fits
        return real_send(**kwargs)

    dependencies = OpsDependencies(
        config=read_config(OpsConfig), sqs=sqs, dynamodb=ops["dynamodb"], invoke_router=_no_router
    )
    override_dependencies(dependencies)
    monkeypatch.setattr(sqs, "send_message_batch", send_then_run_out)
    event = {"job": "redrive", "move": True}
    first = _invoke(event, context)
    assert (first["complete"], first["moved"]) == (False, 20)
    assert first["to_continue"] == {**event, "queues": ["WorkDeadLetterQueue"]}

    second = _invoke(first["to_continue"])
    assert (second["complete"], second["moved"]) == (True, 5)
    assert "to_continue" not in second
    assert emitted_metrics(capsys.readouterr().out) == ["OpsJobToContinue", "OpsJobCompleted"]
    moved = drain(sqs, queues["WorkQueue"])
    assert sorted(moved) == sorted(bodies)  # all 25, none twice


def _no_router(event: dict[str, Any]) -> Mapping[str, Any]:  # pragma: no cover - not called
    raise AssertionError("a redrive does not invoke the router")


def _router(calls: list[list[str]], after: Callable[[], None] = lambda: None):
    """EventRouterFunction's real entry logic, as Lambda would run it for the invoke."""

    def invoke(event: dict[str, Any]) -> Mapping[str, Any]:
        calls.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]])
        answer = handle_events_stream(event, FakeLambdaContext(), lambda: 50.0)
        after()
        return answer

    return invoke


def _replay_wiring(ops: dict[str, Any], invoke: Any) -> None:
    override_dependencies(
        OpsDependencies(
            config=read_config(OpsConfig),
            sqs=ops["sqs"],
            dynamodb=ops["dynamodb"],
            invoke_router=invoke,
        )
    )


@pytest.fixture
def stored(ops: dict[str, Any], dynamo_sync: OrderSync) -> tuple[OrderSync, list[str], int]:
    """Three orders' webhooks in the Events table, as the intake stored them."""
    sync = dynamo_sync
    orders = [sync.sandbox.place_order(sync.shop_id, [RED], notify=False) for _ in range(3)]
    sync.sandbox.advance_order(orders[0].id, "AWAITING_SHIPMENT", notify=False)
    ids = [o.id for o in orders]
    count = _store_webhooks(sync, ops["tables"]["EventsTable"], ids)
    assert count >= 4
    return sync, ids, count


def test_a_replay_through_the_handler_applies_once_and_a_second_publishes_nothing(ops, stored):
    sync, ids, count = stored
    calls: list[list[str]] = []
    _replay_wiring(ops, _router(calls))

    dry = _invoke({"job": "replay", "dry_run": True})
    assert (dry["matched"], dry["complete"], calls) == (count, True, [])

    first = _invoke({"job": "replay", "shop_id": sync.shop_id})
    assert (first["matched"], first["sent"], first["failed"]) == (count, count, [])
    assert first["complete"] is True and len(calls) == 1  # one batch, as the stream would
    published = len(sync.publisher.published)
    assert published > 0 and all(sync.store.get(sync.shop_id, o) for o in ids)

    again = _invoke({"job": "replay", "order_ids": ids})
    assert (again["sent"], again["failed"]) == (count, [])
    assert len(sync.publisher.published) == published  # nothing new published


def test_a_replay_stopped_by_the_deadline_resumes_after_the_last_page_sent(
    ops, stored, monkeypatch
):
    sync, _, count = stored
    monkeypatch.setattr(replay_module, "BATCH", 1)  # one event per page and per invocation
    context = RunningOutContext()
    calls: list[list[str]] = []
    _replay_wiring(ops, _router(calls, after=lambda: len(calls) == 2 and context.run_out()))

    first = _invoke({"job": "replay", "shop_id": sync.shop_id}, context)
    assert (first["complete"], first["sent"], first["matched"]) == (False, 2, 2)
    resume = first["to_continue"]
    assert resume == {"job": "replay", "dry_run": False, "shop_id": sync.shop_id} | {
        "start_after": calls[1][0]
    }

    second = _invoke(resume)
    assert (second["complete"], second["sent"]) == (True, count - 2)
    sent = [key for batch in calls for key in batch]
    everything = {
        i["pk"]["S"] for i in ops["dynamodb"].scan(TableName=ops["tables"]["EventsTable"])["Items"]
    }
    assert sorted(sent) == sorted(everything)  # each stored event once, none skipped


def _quarantine(ops: dict[str, Any], raw: bytes) -> None:
    store = DynamoEventStore(
        ops["dynamodb"], ops["tables"]["EventsTable"], ops["tables"]["QuarantineTable"]
    )
    store.quarantine(QuarantinedDelivery(raw, "a reason the fix removed", datetime.now(UTC)))


def _webhook(notification_id: str) -> bytes:
    return json.dumps(
        {
            "type": 1,
            "tts_notification_id": notification_id,
            "shop_id": "7494",
            "timestamp": int(time.time()) - 3 * 86400,
            "data": {"order_id": "576653688135258178", "order_status": "UNPAID", "update_time": 7},
        }
    ).encode()


def _keys(ops: dict[str, Any], table: str) -> set[str]:
    items = ops["dynamodb"].scan(TableName=ops["tables"][table], ConsistentRead=True)["Items"]
    return {item["pk"]["S"] for item in items}


def test_a_quarantine_replay_stores_what_the_fix_accepts_and_reports_what_still_fails(ops):
    for n in range(3):
        _quarantine(ops, _webhook(f"n-fixed-{n}"))
    _quarantine(ops, b'{"type": 1, "shop_id": "7494", "timestamp": "soon"}')

    dry = _invoke({"job": "replay_quarantine", "dry_run": True})
    assert (dry["examined"], len(dry["stored"]), len(dry["still_failing"])) == (4, 3, 1)
    assert _keys(ops, "EventsTable") == set() and len(_keys(ops, "QuarantineTable")) == 4

    done = _invoke({"job": "replay_quarantine"})
    assert done["complete"] is True
    assert sorted(done["stored"]) == ["n-fixed-0", "n-fixed-1", "n-fixed-2"]
    (failing,) = done["still_failing"]
    assert "timestamp" in failing["reason"] and failing["reason_at_receipt"]
    assert "soon" not in json.dumps(done)  # reasons, never the body
    assert len(_keys(ops, "QuarantineTable")) == 1


def test_a_quarantine_replay_stopped_by_the_deadline_examines_nothing_twice(ops):
    for n in range(4):
        _quarantine(ops, _webhook(f"n-{n}"))
    _quarantine(ops, b'{"type": 1, "shop_id": "7494", "timestamp": "soon"}')
    context = RunningOutContext()
    real_put = DynamoEventStore.put_if_absent
    puts = 0

    def put_then_run_out(self: DynamoEventStore, event: Any) -> bool:
        nonlocal puts
        puts += 1
        if puts == 2:
            context.run_out()
        return real_put(self, event)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DynamoEventStore, "put_if_absent", put_then_run_out)
        first = _invoke({"job": "replay_quarantine"}, context)
    assert first["complete"] is False and first["examined"] in (2, 3)
    resume = first["to_continue"]
    assert resume["job"] == "replay_quarantine" and resume["start_after"].startswith("webhook:")

    second = _invoke(resume)
    assert second["complete"] is True
    assert first["examined"] + second["examined"] == 5  # each body examined once
    failing = first["still_failing"] + second["still_failing"]
    assert len(failing) == 1
    assert _keys(ops, "EventsTable") == {f"n-{n}" for n in range(4)}
    assert len(_keys(ops, "QuarantineTable")) == 1
