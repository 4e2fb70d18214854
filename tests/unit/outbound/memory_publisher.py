"""An in-memory EventPublisher for tests: records what was published, refuses chosen ids."""

from __future__ import annotations

from collections.abc import Sequence

from tts_sync.outbound import OutboundEvent, OutboundPublishError


class MemoryEventPublisher:
    def __init__(self) -> None:
        self.published: list[OutboundEvent] = []
        self.refuse_event_ids: set[str] = set()  # these are "not accepted", like a throttled entry

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        refused = [event.event_id for event in events if event.event_id in self.refuse_event_ids]
        self.published.extend(e for e in events if e.event_id not in self.refuse_event_ids)
        if refused:
            raise OutboundPublishError(refused, "refused by the test")

    def detail_types(self) -> list[str]:
        return [event.detail_type for event in self.published]
