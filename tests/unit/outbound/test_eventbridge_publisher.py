"""EventBridgePublisher against a scripted PutEvents client: chunks of 10, the entry shape,
one retry of refused entries, and errors that name only event ids."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.unit.outbound.builders import listing_event, order_event
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_sync.outbound import (
    EventBridgePublisher,
    EventPublisher,
    OrderEventType,
    OutboundPublishError,
)

BUS = "tts-sync-dev-outbound"


class ScriptedEventsClient:
    """Answers put_events from a queue of replies: a set of refused event ids (their entries
    get an ErrorCode), or an exception to raise. Runs out -> accepts everything."""

    def __init__(self, *replies: set[str] | Exception) -> None:
        self.replies = list(replies)
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        reply = self.replies.pop(0) if self.replies else set()
        if isinstance(reply, Exception):
            raise reply
        results: list[dict[str, Any]] = []
        for entry in Entries:
            if json.loads(entry["Detail"])["event_id"] in reply:
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"})
            else:
                results.append({"EventId": "eb-" + str(len(results))})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def publisher(client: ScriptedEventsClient) -> EventBridgePublisher:
    return EventBridgePublisher(client, BUS)  # type: ignore[arg-type]


def test_entries_carry_source_detail_type_json_detail_and_bus() -> None:
    client = ScriptedEventsClient()
    event = order_event(OrderEventType.READY_TO_SHIP, event_id="evt-1")
    publisher(client).publish([event])
    [entry] = client.calls[0]
    assert entry["Source"] == "tts-sync.orders"
    assert entry["DetailType"] == "Order Ready To Ship"
    assert entry["EventBusName"] == BUS
    assert json.loads(entry["Detail"]) == event.detail.model_dump(mode="json")


def test_publishes_in_chunks_of_ten() -> None:
    client = ScriptedEventsClient()
    events = [order_event(event_id=f"evt-{n}") for n in range(23)]
    publisher(client).publish(events)
    assert [len(call) for call in client.calls] == [10, 10, 3]


def test_nothing_to_publish_makes_no_call() -> None:
    client = ScriptedEventsClient()
    publisher(client).publish([])
    assert client.calls == []


def test_refused_entries_are_retried_once_alone() -> None:
    client = ScriptedEventsClient({"evt-2"})
    events = [order_event(event_id=f"evt-{n}") for n in range(4)]
    publisher(client).publish(events)
    assert len(client.calls) == 2
    assert [json.loads(e["Detail"])["event_id"] for e in client.calls[1]] == ["evt-2"]


def test_entries_refused_twice_raise_naming_only_their_ids() -> None:
    client = ScriptedEventsClient({"evt-1", "evt-12"}, {"evt-1"}, {"evt-12"}, {"evt-12"})
    events = [order_event(event_id=f"evt-{n}") for n in range(15)]
    with pytest.raises(OutboundPublishError) as raised:
        publisher(client).publish(events)
    assert raised.value.failed_event_ids == ["evt-1", "evt-12"]
    assert "ThrottlingException" in raised.value.reason
    assert len(client.calls) == 4  # both chunks still tried, each retried once


def test_client_errors_raise_publish_errors() -> None:
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents"
    )
    client = ScriptedEventsClient(throttled)
    events = [order_event(event_id="evt-1"), listing_event(event_id="evt-2")]
    with pytest.raises(OutboundPublishError, match="not published") as raised:
        publisher(client).publish(events)
    assert raised.value.failed_event_ids == ["evt-1", "evt-2"]
    assert "ThrottlingException" in raised.value.reason
    assert len(client.calls) == 1  # botocore already retried the call


def test_connection_errors_raise_publish_errors() -> None:
    client = ScriptedEventsClient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    with pytest.raises(OutboundPublishError) as raised:
        publisher(client).publish([order_event(event_id="evt-1")])
    assert raised.value.failed_event_ids == ["evt-1"]


def test_logs_ids_and_counts_never_details(caplog: pytest.LogCaptureFixture) -> None:
    client = ScriptedEventsClient({"evt-1"}, {"evt-1"})
    with caplog.at_level(logging.DEBUG), pytest.raises(OutboundPublishError):
        publisher(client).publish([order_event(OrderEventType.READY_TO_SHIP, event_id="evt-1")])
    text = " ".join(str(record.__dict__) for record in caplog.records)
    assert "evt-1" in text
    assert "576461413038785752" not in text  # the order id only travels in the detail
    assert "MUG-RED" not in text


def test_memory_publisher_satisfies_the_port() -> None:
    fake: EventPublisher = MemoryEventPublisher()
    fake.publish([order_event()])
    assert isinstance(fake, MemoryEventPublisher)
    assert fake.detail_types() == ["Order Created"]
    fake.refuse_event_ids.add("evt-2")
    with pytest.raises(OutboundPublishError) as raised:
        fake.publish([order_event(event_id="evt-2")])
    assert raised.value.failed_event_ids == ["evt-2"]
