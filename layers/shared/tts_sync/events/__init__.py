"""The stored webhook event, shared by the intake (writer) and every reader: the type catalogue,
the envelope and the Events item; readers parse stream records with tts_sync.events.stream."""

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
from tts_sync.events.stored import EVENT_RETENTION_SECONDS, StoredEvent

__all__ = [
    "BY_NAME",
    "BY_NUMBER",
    "EVENT_RETENTION_SECONDS",
    "EVENT_TYPES",
    "SUBSCRIBED_EVENT_TYPES",
    "Domain",
    "EventData",
    "EventType",
    "IdStr",
    "StoredEvent",
    "WebhookEnvelope",
    "type_name",
]
