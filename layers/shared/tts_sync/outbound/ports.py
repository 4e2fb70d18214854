"""The port domain code publishes through, and the one error it raises. Adapter: eventbridge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tts_sync.errors import TtsSyncError
from tts_sync.outbound.models import OutboundEvent


class OutboundPublishError(TtsSyncError):
    """Some events were not accepted by the bus (throttled, service error...): retryable.
    Names only the event ids, never a detail (details may hold a shipping address)."""

    def __init__(self, failed_event_ids: Sequence[str], reason: str) -> None:
        self.failed_event_ids = list(failed_event_ids)
        self.reason = reason
        super().__init__(f"{len(self.failed_event_ids)} event(s) not published: {reason}")


class EventPublisher(Protocol):
    def publish(self, events: Sequence[OutboundEvent]) -> None:
        """Publish every event, or raise OutboundPublishError naming those not accepted (the
        others were published: a retry may publish them again, consumers dedupe on event_id)."""
        ...
