"""The stored webhook event, shared by the intake (writer) and every reader: the type catalogue,
the envelope and the Events item; readers parse stream records with tts_sync.events.stream.

Names load on first use (PEP 562): the shops and stock code read the type catalogue alone, and
`tts_sync.events.catalogue` imported through this package built the envelope and stored-event
models in every function's cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tts_sync.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

_SPECIFIC = {
    "WebhookEnvelope": "envelope",
    "EVENT_RETENTION_SECONDS": "stored",
    "StoredEvent": "stored",
}
__getattr__ = lazy_exports(__name__, {name: _SPECIFIC.get(name, "catalogue") for name in __all__})
