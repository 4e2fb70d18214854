"""The stored webhook event, shared by the intake (writer) and every reader: the type catalogue,
the envelope and the Events item; readers parse stream records with tts_sync.events.stream.

Names load on first use (PEP 562): the shops and stock code read the type catalogue alone, and
`tts_sync.events.catalogue` imported through this package built the envelope and stored-event
models in every function's cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

_MODULE_OF = {
    "WebhookEnvelope": "envelope",
    "EVENT_RETENTION_SECONDS": "stored",
    "StoredEvent": "stored",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name) or ("catalogue" if name in __all__ else None)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
