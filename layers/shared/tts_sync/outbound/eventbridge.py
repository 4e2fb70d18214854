"""EventPublisher on EventBridge PutEvents. Logs ids and counts only: a detail may hold a
shipping address."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from tts_sync.observability import logger
from tts_sync.outbound.models import OutboundEvent
from tts_sync.outbound.ports import OutboundPublishError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

# PutEvents takes at most 10 entries per call.
MAX_ENTRIES_PER_CALL = 10


class EventBridgePublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        failed_ids: list[str] = []
        reasons: set[str] = set()
        for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
            chunk = list(events[start : start + MAX_ENTRIES_PER_CALL])
            pending, reason, call_failed = self._put(chunk)
            if pending and not call_failed:
                # Entries refused one by one (throttling, internal errors) often pass at once;
                # a failed call was already retried by botocore.
                pending, reason, _ = self._put(pending)
            if pending:
                failed_ids.extend(event.event_id for event in pending)
                reasons.add(reason)
        if failed_ids:
            logger.warning(
                "outbound events not published",
                bus_name=self._bus_name,
                failed_count=len(failed_ids),
                published_count=len(events) - len(failed_ids),
                failed_event_ids=failed_ids,
            )
            raise OutboundPublishError(failed_ids, "; ".join(sorted(reasons)))
        logger.info("outbound events published", bus_name=self._bus_name, count=len(events))

    def _put(self, events: list[OutboundEvent]) -> tuple[list[OutboundEvent], str, bool]:
        """Sends one PutEvents call: the events not accepted, why, and whether the call itself
        failed."""
        try:
            response = self._client.put_events(Entries=[self._entry(event) for event in events])
        except (ClientError, BotoCoreError) as exc:
            code = exc.response["Error"].get("Code", "") if isinstance(exc, ClientError) else ""
            logger.warning(
                "PutEvents failed",
                bus_name=self._bus_name,
                error=type(exc).__name__,
                code=code,
                event_ids=[event.event_id for event in events],
            )
            return events, f"PutEvents failed: {code or type(exc).__name__}", True
        if not response.get("FailedEntryCount"):
            return [], "", False
        # Result entries are in request order; a refused one has an ErrorCode.
        refused = [
            (event, result.get("ErrorCode", ""))
            for event, result in zip(events, response["Entries"], strict=True)
            if result.get("ErrorCode")
        ]
        codes = sorted({code for _, code in refused})
        return [event for event, _ in refused], "entries refused: " + ", ".join(codes), False

    def _entry(self, event: OutboundEvent) -> PutEventsRequestEntryTypeDef:
        return {
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": event.detail.model_dump_json(),
            "EventBusName": self._bus_name,
        }
