"""The outbound bus on the real template.yaml in the local stack: events published through
EventBridgePublisher reach OutboundEventsQueue through OutboundEventsRule and its prefix
pattern; other sources do not. No sleeps: the queue is polled with a deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import REPO_ROOT
from tests.unit.outbound.builders import listing_event, order_detail, shipping_address
from tts_local.stack import LocalStack, StackSettings
from tts_sync.outbound import EventBridgePublisher, OrderEventType, OutboundEvent


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    settings = StackSettings(sqs_wait_seconds=1, stream_poll_seconds=0.2)
    with LocalStack(REPO_ROOT / "template.yaml", port=0, settings=settings) as running:
        yield running


@pytest.fixture
def queue_url(stack: LocalStack) -> Iterator[str]:
    url = str(stack.outputs["OutboundEventsQueueUrl"])
    yield url
    # Every test leaves the queue empty (PurgeQueue is allowed once a minute only).
    sqs = stack.client("sqs")
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def publisher(stack: LocalStack) -> EventBridgePublisher:
    return EventBridgePublisher(stack.client("events"), str(stack.outputs["OutboundEventBusName"]))


def receive_until(
    stack: LocalStack, queue_url: str, count: int, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """EventBridge envelopes from the queue, until `count` arrived (or fail at the deadline)."""
    sqs = stack.client("sqs")
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(bodies)} of {count} events arrived within {timeout}s")
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_published_events_reach_the_back_office_queue(
    stack: LocalStack, queue_url: str, publisher: EventBridgePublisher
) -> None:
    ready = OutboundEvent.order_event(
        OrderEventType.READY_TO_SHIP,
        order_detail("evt-ready", shipping_address=shipping_address()),
    )
    listing = listing_event("evt-listing")
    publisher.publish([ready, listing])

    received = {body["detail"]["event_id"]: body for body in receive_until(stack, queue_url, 2)}
    assert received.keys() == {"evt-ready", "evt-listing"}
    for event in (ready, listing):
        body = received[event.event_id]
        assert body["source"] == event.source
        assert body["detail-type"] == event.detail_type
        assert body["detail"] == event.detail.model_dump(mode="json")


def test_more_than_one_put_events_call_all_arrive(
    stack: LocalStack, queue_url: str, publisher: EventBridgePublisher
) -> None:
    events = [
        OutboundEvent.order_event(OrderEventType.CREATED, order_detail(f"evt-{n}"))
        for n in range(12)
    ]
    publisher.publish(events)
    received = receive_until(stack, queue_url, 12)
    assert sorted(body["detail"]["event_id"] for body in received) == sorted(
        event.event_id for event in events
    )


@pytest.mark.parametrize(
    "source", ["shop.orders", "tts-sync", "tts-syncx.orders", "TTS-SYNC.orders"]
)
def test_sources_outside_the_prefix_do_not_arrive(
    stack: LocalStack, queue_url: str, publisher: EventBridgePublisher, source: str
) -> None:
    bus = str(stack.outputs["OutboundEventBusName"])
    stranger = {"Source": source, "DetailType": "Order Created", "Detail": '{"event_id": "x"}'}
    reply = stack.client("events").put_events(Entries=[{**stranger, "EventBusName": bus}])
    assert reply["FailedEntryCount"] == 0
    # PutEvents delivers in order: once the marker is in, the stranger would be in too.
    publisher.publish([listing_event("evt-marker")])
    received = receive_until(stack, queue_url, 1)
    assert [body["detail"]["event_id"] for body in received] == ["evt-marker"]
    leftovers = stack.client("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)
    assert leftovers.get("Messages", []) == []
