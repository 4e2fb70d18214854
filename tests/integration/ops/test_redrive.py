"""`tts-sync ops redrive` against SQS over the wire (moto server): a dry run moves nothing, a
move loses nothing, and what the source queue refuses stays in the DLQ."""

from __future__ import annotations

import argparse
import json
import uuid

import boto3
import pytest

from tests.integration.ops.conftest import dead_lettered_queue, drain, poison, queue_depth
from tts_local.ops_cli import run_redrive
from tts_sync.ops.redrive import RedriveError, dead_letter_queues, redrive
from tts_sync.ops.target import StackTarget


@pytest.fixture
def stack(aws_endpoint):
    """A source queue dead-lettering into its DLQ, as template.yaml declares them."""
    sqs = boto3.client("sqs", endpoint_url=aws_endpoint)
    source, dlq = dead_lettered_queue(sqs, "source", max_receive_count=1)
    target = StackTarget(
        "test",
        {"WorkQueue": source, "WorkDeadLetterQueue": dlq, "SomeTable": f"table-{uuid.uuid4()}"},
        aws_endpoint,
    )
    return sqs, target, source, dlq


def test_the_stack_dlqs_are_found_from_the_source_queues_redrive_policies(stack):
    sqs, target, source, dlq = stack
    (found,) = dead_letter_queues(sqs, target.queue_urls())
    assert (found.logical_id, found.url, found.source_urls) == (
        "WorkDeadLetterQueue",
        dlq,
        (source,),
    )


def test_a_dry_run_counts_per_reason_and_moves_nothing(stack):
    sqs, target, source, dlq = stack
    poison(sqs, dlq, 25, throttled_every=3)
    (queue,) = dead_letter_queues(sqs, target.queue_urls())
    report = redrive(sqs, queue, dry_run=True)
    assert report.waiting == 25 and report.moved == 0
    assert report.reasons["SQS.Throttled"] == 9
    assert sum(report.reasons.values()) == 25
    assert drain(sqs, source) == []
    assert len(drain(sqs, dlq)) == 25  # every message still there, visible at once


def test_a_move_puts_every_message_back_once_and_empties_the_dlq(stack, capsys):
    sqs, target, source, dlq = stack
    bodies = poison(sqs, dlq, 25, throttled_every=3)
    args = argparse.Namespace(queue=None, move=True, limit=None)
    assert run_redrive(target, args) == 0
    assert "WorkDeadLetterQueue: 25 waiting, moved 25" in capsys.readouterr().out
    moved = drain(sqs, source)
    assert sorted(moved) == sorted(bodies)  # all of them, none twice
    assert drain(sqs, dlq) == []


def test_a_limit_moves_only_that_many(stack):
    sqs, target, source, dlq = stack
    poison(sqs, dlq, 12, throttled_every=3)
    (queue,) = dead_letter_queues(sqs, target.queue_urls())
    assert redrive(sqs, queue, dry_run=False, limit=5).moved == 5
    assert len(drain(sqs, source)) == 5


def test_what_the_source_refuses_stays_in_the_dlq(stack, monkeypatch):
    sqs, target, source, dlq = stack
    poison(sqs, dlq, 4, throttled_every=3)
    (queue,) = dead_letter_queues(sqs, target.queue_urls())
    real_send = sqs.send_message_batch

    def half_refused(**kwargs):
        entries = kwargs["Entries"]
        answer = real_send(QueueUrl=kwargs["QueueUrl"], Entries=entries[: len(entries) // 2])
        refused = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"}
            for e in entries[len(entries) // 2 :]
        ]
        return {**answer, "Failed": refused}

    monkeypatch.setattr(sqs, "send_message_batch", half_refused)
    report = redrive(sqs, queue, dry_run=False, limit=4)
    assert (report.moved, report.failed) == (2, 2)
    assert len(drain(sqs, source)) == 2
    # The refused two were never deleted: still in the DLQ (in flight until their time ends).
    counts = sqs.get_queue_attributes(
        QueueUrl=dlq,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert int(counts["ApproximateNumberOfMessages"]) == 0
    assert int(counts["ApproximateNumberOfMessagesNotVisible"]) == 2


def test_a_dlq_shared_by_two_sources_is_refused_with_the_reason(stack):
    sqs, target, _source, dlq = stack
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    other = sqs.create_queue(
        QueueName=f"other-{uuid.uuid4().hex[:8]}", Attributes={"RedrivePolicy": policy}
    )["QueueUrl"]
    urls = {**target.queue_urls(), "OtherQueue": other}
    (queue,) = dead_letter_queues(sqs, urls)
    with pytest.raises(RedriveError, match="DLQ of 2 queues"):
        redrive(sqs, queue, dry_run=True)


def test_an_unknown_queue_name_is_refused_naming_the_dlqs(stack):
    _, target, _, _ = stack
    args = argparse.Namespace(queue=["NoSuchQueue"], move=False, limit=None)
    with pytest.raises(RedriveError, match="WorkDeadLetterQueue"):
        run_redrive(target, args)


def test_messages_that_fail_again_during_the_run_are_not_moved_round_in_a_loop(stack, monkeypatch):
    sqs, target, _, dlq = stack
    poison(sqs, dlq, 3, throttled_every=3)
    (queue,) = dead_letter_queues(sqs, target.queue_urls())
    real_send = sqs.send_message_batch

    def consumer_fails_at_once(**kwargs):
        # The source's consumer fails each message straight back into the DLQ.
        return real_send(QueueUrl=dlq, Entries=kwargs["Entries"])

    monkeypatch.setattr(sqs, "send_message_batch", consumer_fails_at_once)
    report = redrive(sqs, queue, dry_run=False)
    assert report.moved == 3  # what waited at the start, once each; then the run ends


def test_stream_failure_records_are_left_in_the_dlq_not_moved_to_the_queue(stack):
    sqs, target, source, dlq = stack
    record = json.dumps(
        {
            "requestContext": {"condition": "RetryAttemptsExhausted"},
            "DDBStreamBatchInfo": {"shardId": "shard-1", "batchSize": 3},
        }
    )
    sqs.send_message(QueueUrl=dlq, MessageBody=record)
    poison(sqs, dlq, 2, throttled_every=3)
    (queue,) = dead_letter_queues(sqs, target.queue_urls())
    report = redrive(sqs, queue, dry_run=False)
    assert (report.moved, report.left) == (2, 1)
    assert report.reasons["stream batch failure record (not movable)"] == 1
    assert record not in drain(sqs, source)
    assert queue_depth(sqs, dlq) == 1
