"""The stored webhook event: the Events item the intake writes. Its readers' model is in
tts_sync.events.stream, next to it, so an attribute renamed here is renamed for them too (and
the intake's cold start does not pay for the stream parser models)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

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
