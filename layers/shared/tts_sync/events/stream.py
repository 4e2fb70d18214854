"""The Events item as its readers see it: the stream record the Events table's one consumer
receives (a Powertools parser model, numbers decoded), and the item read back any other way."""

from __future__ import annotations

import json
from datetime import datetime

from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamChangedRecordModel,
    DynamoDBStreamRecordModel,
)
from pydantic import BaseModel, ConfigDict

from tts_sync.events.catalogue import EventData
from tts_sync.events.envelope import WebhookEnvelope


class StoredEventImage(BaseModel):
    """An Events item as read back (stream NewImage, GetItem, Scan), numbers already decoded."""

    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

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
