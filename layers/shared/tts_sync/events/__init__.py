"""The stored webhook event, shared by the intake (writer) and every reader: the type catalogue,
the envelope, the Events item and its typed stream record."""

from tts_sync.events.catalogue import (
    BY_NAME,
    BY_NUMBER,
    EVENT_TYPES,
    SUBSCRIBED_EVENT_TYPES,
    Domain,
    EventData,
    EventType,
    IdStr,
    type_name,
)
from tts_sync.events.envelope import WebhookEnvelope
from tts_sync.events.stored import (
    EVENT_RETENTION_SECONDS,
    EventsStreamRecord,
    StoredEvent,
    StoredEventImage,
)

__all__ = [
    "BY_NAME",
    "BY_NUMBER",
    "EVENT_RETENTION_SECONDS",
    "EVENT_TYPES",
    "SUBSCRIBED_EVENT_TYPES",
    "Domain",
    "EventData",
    "EventType",
    "EventsStreamRecord",
    "IdStr",
    "StoredEvent",
    "StoredEventImage",
    "WebhookEnvelope",
    "type_name",
]
