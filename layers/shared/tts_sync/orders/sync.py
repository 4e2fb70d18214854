"""Applying order states read from TikTok: the one path webhooks, the poll and backfills share.

For each order: read the stored item, keep the newer state (tts_sync.orders.lifecycle), write
it with its changed reservations and the events it produces in one conditional write (the
item's revision is the optimistic lock; a lost race re-reads and decides again), then publish
the events and forget them. Events stay on the item until published: a crash between the
write and the publish leaves them there, and whoever next reads the order after
PENDING_GRACE_SECONDS (a retry, the poll, the sweep) publishes them. A duplicate or older
delivery changes nothing and publishes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import ValidationError

from tts_sync.audit.ports import NO_AUDIT, AuditLog
from tts_sync.audit.trail import order_written, outbound_events, write_audit
from tts_sync.errors import StorageUnavailableError, TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.orders.lifecycle import describe_change, is_newer
from tts_sync.orders.models import OrderRecord, StoredOrder
from tts_sync.orders.outbound_events import order_events
from tts_sync.orders.ports import OrderStore, OrderWrite
from tts_sync.orders.reservations import reservation_changes
from tts_sync.outbound import EventPublisher, OutboundEvent, OutboundPublishError

MAX_WRITE_ATTEMPTS = 8
# Events a writer has not published this long after its write are anyone's to publish: it
# crashed (or is stuck), and an at-least-once event beats a lost one.
PENDING_GRACE_SECONDS = 30


class ApplyOutcome(StrEnum):
    APPLIED = "applied"  # the record moved (and its events went out)
    UNCHANGED = "unchanged"  # a duplicate, an older state, or the same state again
    FAILED = "failed"  # storage failed or the order kept changing: retry it


class OrderWriteContendedError(TtsSyncError):
    """The order kept changing under us for MAX_WRITE_ATTEMPTS tries: retry later."""


@dataclass(frozen=True)
class SyncContext:
    store: OrderStore
    publisher: EventPublisher
    clock: Callable[[], float]
    audit: AuditLog = NO_AUDIT  # the order's trail (tts_sync.audit); never fails a write


@dataclass
class ApplyReport:
    outcomes: dict[str, ApplyOutcome] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # order id -> error type (FAILED)
    published: int = 0
    unpublished: int = 0  # left pending after a publish failure (the sweep retries them)
    recovered: int = 0  # pending events of an earlier crashed writer, published now


def apply_states(shop_id: str, records: Iterable[OrderRecord], context: SyncContext) -> ApplyReport:
    newest = _newest_per_order(records)
    report = ApplyReport()
    if not newest:
        return report
    stored = context.store.get_many(shop_id, newest)
    to_publish: dict[str, list[OutboundEvent]] = {}
    for order_id, record in newest.items():
        try:
            outcome, events = _apply_one(record, stored, context)
        except (StorageUnavailableError, OrderWriteContendedError) as error:
            # This order is retried; the others of the batch still go through (and publish).
            report.outcomes[order_id] = ApplyOutcome.FAILED
            report.errors[order_id] = type(error).__name__
            logger.warning("order not stored", order_id=order_id, error=type(error).__name__)
            continue
        report.outcomes[order_id] = outcome
        if events:
            to_publish[order_id] = events
    _publish(shop_id, to_publish, context, report)
    leftovers = {
        order_id: item
        for order_id, item in stored.items()
        if order_id not in to_publish and _stale_pending(item, context)
    }
    recover_pending(shop_id, leftovers.values(), context, report)
    return report


def recover_pending(
    shop_id: str, items: Iterable[StoredOrder], context: SyncContext, report: ApplyReport
) -> None:
    """Publish events a crashed writer left on these items."""
    leftovers = {
        item.record.order_id: events
        for item in items
        if item.pending_events and (events := _readable_pending(item))
    }
    if not leftovers:
        return
    before = report.published
    _publish(shop_id, leftovers, context, report)
    report.recovered += report.published - before
    logger.warning(
        "published events left pending by an earlier run",
        shop_id=shop_id,
        orders=len(leftovers),
        events=report.published - before,
    )


def _apply_one(
    record: OrderRecord, stored: dict[str, StoredOrder], context: SyncContext
) -> tuple[ApplyOutcome, list[OutboundEvent]]:
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = stored.get(record.order_id)
        previous = current.record if current else None
        if previous is not None and previous.buyer.erased_at is not None:
            # Erased buyer data stays erased whatever TikTok still returns (tts_sync.privacy).
            record = record.model_copy(update={"buyer": previous.buyer})
        if previous is not None and previous.shipments:
            # Our tracking uploads are not in TikTok's reads: they stay on the record.
            record = record.model_copy(update={"shipments": previous.shipments})
        if not is_newer(record, previous):
            return ApplyOutcome.UNCHANGED, []
        now = context.clock()
        change = describe_change(previous, record)
        events = order_events(
            change,
            datetime.fromtimestamp(now, UTC),
            previous_revision=current.revision if current else 0,
        )
        pending = dict(current.pending_events) if current else {}
        pending.update({event.event_id: event.model_dump_json() for event in events})
        carried_since = current.pending_since_ms if current and current.pending_events else None
        item = StoredOrder(
            record=record,
            revision=current.revision + 1 if current else 1,
            pending_events=pending,
            pending_since_ms=(carried_since or int(now * 1000)) if pending else None,
        )
        write = OrderWrite(
            stored=item,
            expected_revision=current.revision if current else None,
            reservations=reservation_changes(previous, record),
        )
        if context.store.write(write):
            logger.info(
                "order stored",
                shop_id=record.shop_id,
                order_id=record.order_id,
                status=record.status,
                previous_status=previous.status if previous else None,
                changes=change.changes,
                source=record.source.value,
            )
            stored[record.order_id] = item
            read_at = record.fetched_at_ms / 1000 if record.fetched_at_ms else now
            write_audit(
                context.audit,
                order_written(previous, item, change.changes, write.reservations, at=read_at),
            )
            if current is not None and _stale_pending(current, context):
                # A dead writer's events ride along with ours (oldest first), not left waiting.
                ours = {event.event_id for event in events}
                carried = [e for e in _readable_pending(current) if e.event_id not in ours]
                events = carried + events
            return ApplyOutcome.APPLIED, events
        # Lost a race: someone wrote this order since we read it. Decide again on theirs.
        latest = context.store.get_many(record.shop_id, [record.order_id])
        if record.order_id in latest:
            stored[record.order_id] = latest[record.order_id]
    raise OrderWriteContendedError(f"order {record.order_id} kept changing while written")


def _publish(
    shop_id: str,
    events_by_order: dict[str, list[OutboundEvent]],
    context: SyncContext,
    report: ApplyReport,
) -> None:
    events = [event for batch in events_by_order.values() for event in batch]
    if not events:
        return
    failed: set[str] = set()
    try:
        context.publisher.publish(events)
    except OutboundPublishError as exc:
        failed = set(exc.failed_event_ids)
        logger.error("outbound events not published; kept pending", failed=len(failed))
        metrics.add_metric(name="OutboundPublishFailed", unit=MetricUnit.Count, value=len(failed))
    write_audit(context.audit, outbound_events(events, failed))
    for order_id, batch in events_by_order.items():
        published = [event.event_id for event in batch if event.event_id not in failed]
        refused = len(published) < len(batch)
        try:
            context.store.clear_pending(
                shop_id,
                order_id,
                published,
                retried_at_ms=int(context.clock() * 1000) if refused else None,
            )
        except StorageUnavailableError as error:
            # Published but still marked pending: a later reader publishes them once more
            # (at least once beats lost; event_id lets the back office drop the copy).
            logger.warning("published events not cleared", order_id=order_id, error=str(error))
        report.published += len(published)
        report.unpublished += len(batch) - len(published)
    if len(events) > len(failed):
        metrics.add_metric(
            name="OutboundEventsPublished", unit=MetricUnit.Count, value=len(events) - len(failed)
        )


def _readable_pending(item: StoredOrder) -> list[OutboundEvent]:
    """The item's pending events that still parse. One that does not (written by another
    release) stays on the item for ops (PendingEventUnreadable) and blocks nothing else."""
    events = []
    for event_id, body in item.pending_events.items():
        try:
            events.append(OutboundEvent.model_validate_json(body))
        except ValidationError as exc:
            logger.error(
                "pending event unreadable; kept on the order",
                shop_id=item.record.shop_id,
                order_id=item.record.order_id,
                event_id=event_id,
                problems=exc.error_count(),
            )
            metrics.add_metric(name="PendingEventUnreadable", unit=MetricUnit.Count, value=1)
    return events


def _stale_pending(item: StoredOrder, context: SyncContext) -> bool:
    if not item.pending_events or item.pending_since_ms is None:
        return False
    return item.pending_since_ms < (context.clock() - PENDING_GRACE_SECONDS) * 1000


def _newest_per_order(records: Iterable[OrderRecord]) -> dict[str, OrderRecord]:
    newest: dict[str, OrderRecord] = {}
    for record in records:
        known = newest.get(record.order_id)
        if known is None or is_newer(record, known):
            newest[record.order_id] = record
    return newest
