"""The stored webhook event: the Events item the intake writes, and the typed reader of that
item as the Events table's stream delivers it. Writer and readers share this one module, so an
attribute renamed here is renamed for everyone."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamChangedRecordModel,
    DynamoDBStreamRecordModel,
)
from pydantic import BaseModel, ConfigDict

from tts_sync.events.catalogue import EventData
from tts_sync.events.envelope import WebhookEnvelope

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

# Long enough to deduplicate every retry and replay attempt, short enough to keep the table
# small (and stored payloads, which may hold buyer data, do not outlive it).
EVENT_RETENTION_SECONDS = 30 * 24 * 3600


class StoredEvent(BaseModel):
    """One accepted delivery: its deduplication key, the parsed envelope and the exact body."""

    model_config = ConfigDict(frozen=True)

    event_key: str
    envelope: WebhookEnvelope
    payload: str
    received_at: datetime

    @property
    def expires_at(self) -> int:
        return int(self.received_at.timestamp()) + EVENT_RETENTION_SECONDS

    def to_item(self) -> dict[str, AttributeValueTypeDef]:
        envelope = self.envelope
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": self.event_key},
            "event_type": {"N": str(envelope.type)},
            "event_type_name": {"S": envelope.type_name},
            "shop_id": {"S": envelope.shop_id},
            "event_timestamp": {"N": str(envelope.timestamp)},
            "received_at": {"S": self.received_at.isoformat()},
            "payload": {"S": self.payload},
            "expires_at": {"N": str(self.expires_at)},
        }
        if envelope.tts_notification_id:
            item["notification_id"] = {"S": envelope.tts_notification_id}
        return item


class StoredEventImage(BaseModel):
    """An Events item as read back (stream NewImage, GetItem, Scan), numbers already decoded."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    pk: str
    event_type: int
    event_type_name: str = ""
    shop_id: str
    event_timestamp: int
    received_at: datetime
    payload: str
    notification_id: str | None = None

    @property
    def event_key(self) -> str:
        return self.pk

    def envelope(self) -> WebhookEnvelope:
        return WebhookEnvelope.model_validate(json.loads(self.payload))

    def typed_data(self) -> EventData | None:
        """The payload's `data` as its type's model (None for unknown types)."""
        return self.envelope().typed_data()


class EventsStreamChange(DynamoDBStreamChangedRecordModel):
    NewImage: StoredEventImage | None = None


class EventsStreamRecord(DynamoDBStreamRecordModel):
    """A record of the Events table's stream, parsed by Powertools' BatchProcessor."""

    dynamodb: EventsStreamChange

    @property
    def event(self) -> StoredEventImage | None:
        return self.dynamodb.NewImage
