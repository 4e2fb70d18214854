"""Events stream records as DynamoDB Streams delivers them to the consumer, built from the
very item the intake writes (StoredEvent.to_item): what the router reads is what is stored."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from tts_sync.events import StoredEvent, WebhookEnvelope

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/events/stream/2026-12-01T00:00:00.000"
_sequence = itertools.count(10**20)


def stored_event(envelope: dict[str, Any]) -> StoredEvent:
    body = json.dumps(envelope, separators=(",", ":"))
    parsed = WebhookEnvelope.model_validate(envelope)
    return StoredEvent(
        event_key=parsed.event_key, envelope=parsed, payload=body, received_at=datetime.now(UTC)
    )


def stream_record(event: StoredEvent) -> dict[str, Any]:
    item = event.to_item()
    return {
        "eventID": f"id-{next(_sequence)}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": STREAM_ARN,
        "dynamodb": {
            "ApproximateCreationDateTime": int(event.received_at.timestamp()),
            "Keys": {"pk": item["pk"]},
            "NewImage": item,
            "SequenceNumber": str(next(_sequence)),
            "SizeBytes": len(json.dumps(item)),
            "StreamViewType": "NEW_IMAGE",
        },
    }


def stream_batch(envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [stream_record(stored_event(e)) for e in envelopes]}
