"""One tracking upload, exactly once, every refusal explained.

1. Claim the business key (shop, order, package, tracking) in FulfilmentTable: a key done
   before is a duplicate (nothing read or sent); one another delivery holds is retried later.
2. Read the order from TikTok (Get Order Detail: status, lines, packages, tracking) and decide
   (decision.py): mark shipped / ship package / update shipping info / nothing, or refuse.
3. Act: ONE fulfilment call. A reply that may or may not have been applied
   (TikTokOutcomeUnknownError: timeout, 5xx, unreadable 2xx) is checked (package detail, or
   the order again) before anything is resent.
4. Bookkeeping: the order record gains the shipment and a pending "Order Shipped" event in one
   conditional write (its id is derived from the business key: published once), the event is
   published, the claim marked done.

A crash between 3 and 4 leaves the claim in progress; its lease lapses, a redelivery claims it,
step 2 finds TikTok already shows the tracking number (nothing sent) and 4 completes: one upload.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tts_sync.audit.models import AuditEntry
from tts_sync.audit.ports import NO_AUDIT, AuditLog
from tts_sync.audit.trail import tracking_upload
from tts_sync.errors import StorageUnavailableError, TtsSyncError
from tts_sync.fulfilment.decision import Action, Decision, Refused, decide, fallback_to_package
from tts_sync.fulfilment.models import (
    RefusalCode,
    TrackingUpload,
    UploadOutcome,
)
from tts_sync.fulfilment.ports import FulfilmentApi, FulfilmentStore, ShopDirectory
from tts_sync.observability import logger
from tts_sync.orders.lifecycle import describe_change
from tts_sync.orders.models import OrderRecord, OrderSource, StoredOrder, UploadedShipment
from tts_sync.orders.outbound_events import order_events, order_snapshot
from tts_sync.orders.ports import OrderWrite
from tts_sync.orders.reservations import reservation_changes
from tts_sync.orders.sync import SyncContext
from tts_sync.outbound import OrderEventDetail, OrderEventType, OutboundEvent, OutboundPublishError
from tts_sync.tiktok import Deadline, ShopAccess
from tts_sync.tiktok.errors import (
    CODE_INVALID_PARAMETER,
    TikTokApiError,
    TikTokOutcomeUnknownError,
    TikTokPermanentError,
    TikTokRetryableError,
)
from tts_sync.tiktok.models import Order

CODE_MARK_SHIPPED_NOT_OFFERED = 21008106  # Mark Package As Shipped outside its markets
# Longer than the function's timeout: a live run keeps its claim; a crashed run's lapses
# before SQS redelivers (visibility timeout, 6x the function's timeout).
DEFAULT_LEASE_SECONDS = 60.0
BUSY_RETRY_SECONDS = 30
MAX_BOOKKEEPING_ATTEMPTS = 8


@dataclass(frozen=True)
class UploadContext:
    store: FulfilmentStore
    sync: SyncContext  # the order store and the outbound publisher (order sync's)
    shops: ShopDirectory
    api: Callable[[], FulfilmentApi]
    clock: Callable[[], float]
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    audit: AuditLog = NO_AUDIT  # each decided outcome on the order's trail (tts_sync.audit)


@dataclass(frozen=True)
class UploadResult:
    outcome: UploadOutcome
    code: RefusalCode | None = None
    reason: str = ""
    action: str = ""
    package_id: str = ""
    retry_after: int | None = None  # seconds before the message should come back
    tiktok_code: int | None = None
    provider_id: str = ""  # TikTok's shipping provider the carrier mapped to (once decided)


class _Retry(TtsSyncError):
    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def upload_tracking(
    message: TrackingUpload, context: UploadContext, deadline: Deadline
) -> UploadResult:
    target = context.shops.target(message.shop_id)
    if target is None:
        return UploadResult(
            UploadOutcome.REFUSED,
            RefusalCode.UNKNOWN_SHOP,
            f"shop {message.shop_id} is not connected to tts-sync (unknown or deauthorized)",
        )
    key = message.business_key
    claim = context.store.claim(message.shop_id, key, context.clock(), context.lease_seconds)
    if claim.status == "done":
        done = claim.claim
        return UploadResult(
            UploadOutcome.DUPLICATE,
            reason="this shipment was uploaded before",
            action=done.outcome if done else "",
            package_id=done.package_id if done else "",
        )
    if claim.status == "busy":
        return UploadResult(
            UploadOutcome.RETRY,
            reason="another delivery of this shipment is being uploaded",
            retry_after=BUSY_RETRY_SECONDS,
        )
    try:
        result = _upload_claimed(message, target.access, target.region, context, deadline)
    except _Retry as retry:
        _release(context, message)
        return UploadResult(UploadOutcome.RETRY, reason=str(retry), retry_after=retry.retry_after)
    except (TikTokRetryableError, StorageUnavailableError) as exc:
        # Nothing was applied that a re-read would not see: the next delivery checks again.
        _release(context, message)
        return UploadResult(UploadOutcome.RETRY, reason=f"{type(exc).__name__}: {exc}")
    except TikTokPermanentError:
        # A read TikTok refuses (order or package detail; a refused write is a refusal
        # above): the key is given back before the error goes up (retried, then the DLQ).
        _release(context, message)
        raise
    if result.outcome in (UploadOutcome.UPLOADED, UploadOutcome.ALREADY_SHIPPED):
        # Later deliveries of this key are duplicates: nothing read or sent.
        context.store.finish(message.shop_id, key, result.action, result.package_id)
    else:
        # Refused or retried: a later delivery (after a fix: an override, a setting) decides
        # again from what TikTok shows then.
        _release(context, message)
    return result


def _upload_claimed(
    message: TrackingUpload,
    access: ShopAccess,
    region: str,
    context: UploadContext,
    deadline: Deadline,
) -> UploadResult:
    api = context.api()
    unknown_order = UploadResult(
        UploadOutcome.REFUSED,
        RefusalCode.UNKNOWN_ORDER,
        f"order {message.order_id} is not an order of shop {message.shop_id} on TikTok",
    )
    try:
        order = _read_order(api, access, message.order_id, deadline)
    except TikTokPermanentError as exc:
        if not _is_order_not_found(exc):
            raise
        return replace(unknown_order, reason=f"{unknown_order.reason} ({exc.message})")
    if order is None:
        return unknown_order
    stored = context.sync.store.get_many(message.shop_id, [message.order_id]).get(message.order_id)

    def decide_on(order: Order) -> Decision | Refused:
        return decide(
            message,
            order,
            region=region,
            carriers=context.store.carrier_map(message.shop_id),
            settings=context.store.settings(message.shop_id),
            uploaded=list(stored.record.shipments) if stored else [],
            now=context.clock(),
        )

    decision = decide_on(order)
    if isinstance(decision, Refused):
        return _refusal(decision)
    try:
        package_id = _act(api, access, message, order, decision, deadline)
    except TikTokOutcomeUnknownError as unknown:
        package_id = _verify(api, access, message, decision, deadline, unknown)
    except TikTokPermanentError as exc:
        # "Already shipped" after an earlier write whose outcome was unknown (applied late):
        # look once more before calling it a refusal.
        again = _read_order(api, access, message.order_id, deadline)
        second = decide_on(again) if again is not None else decision
        refused = _tiktok_refused(
            f"TikTok refused {decision.action.value} of order {order.id}", exc
        )
        refused = replace(
            refused, action=decision.action.value, provider_id=decision.shipping_provider_id
        )
        if isinstance(second, Refused):
            return _refusal(second)
        if second.action is Action.NOTHING:
            logger.info("refused write: the order shows it applied", action=decision.action.value)
            package_id = second.package_id
        elif second.action is decision.action or again is None:
            return refused
        else:  # TikTok's state moved on: the one other write it now calls for
            try:
                package_id = _act(api, access, message, again, second, deadline)
            except TikTokOutcomeUnknownError as unknown:
                package_id = _verify(api, access, message, second, deadline, unknown)
            except TikTokPermanentError as exc2:
                return replace(
                    _tiktok_refused(
                        f"TikTok refused {second.action.value} of order {order.id}", exc2
                    ),
                    action=second.action.value,
                    provider_id=second.shipping_provider_id,
                )
            decision = second
    shipment = UploadedShipment(
        business_key=message.business_key,
        package_id=package_id,
        line_item_ids=list(decision.line_item_ids),
        carrier=message.carrier,
        shipping_provider_id=decision.shipping_provider_id,
        tracking_number=message.tracking_number,
        shipped_at=message.shipped_at_epoch,
        uploaded_at=int(context.clock()),
        action=decision.action.value,
    )
    record_shipment(message.shop_id, order, shipment, context)
    outcome = (
        UploadOutcome.ALREADY_SHIPPED
        if decision.action is Action.NOTHING
        else UploadOutcome.UPLOADED
    )
    return UploadResult(
        outcome,
        action=decision.action.value,
        package_id=package_id,
        provider_id=decision.shipping_provider_id,
    )


def _refusal(refused: Refused) -> UploadResult:
    if refused.retry_after is not None:
        return UploadResult(
            UploadOutcome.RETRY, refused.code, refused.reason, retry_after=refused.retry_after
        )
    return UploadResult(UploadOutcome.REFUSED, refused.code, refused.reason)


def _tiktok_refused(what: str, exc: TikTokPermanentError) -> UploadResult:
    return UploadResult(
        UploadOutcome.REFUSED,
        RefusalCode.TIKTOK_REFUSED,
        f"{what}: {exc.message}",
        tiktok_code=exc.code,
    )


def _is_order_not_found(exc: TikTokPermanentError) -> bool:
    """Get Order Detail refusing the id itself (36009004 naming the order) rather than
    answering without it: the order is not the shop's."""
    return exc.code == CODE_INVALID_PARAMETER and "order" in exc.message.lower()


def _read_order(
    api: FulfilmentApi, access: ShopAccess, order_id: str, deadline: Deadline
) -> Order | None:
    orders = api.get_order_detail(access, [order_id], deadline=deadline)
    return next((o for o in orders if o.id == order_id), None)


def _act(
    api: FulfilmentApi,
    access: ShopAccess,
    message: TrackingUpload,
    order: Order,
    decision: Decision,
    deadline: Deadline,
) -> str:
    """The one fulfilment call; returns the package the tracking is now on."""
    tracking, provider = message.tracking_number, decision.shipping_provider_id
    if decision.action is Action.NOTHING:
        return decision.package_id
    if decision.action is Action.MARK_SHIPPED:
        try:
            shipped = api.mark_shipped(
                access, order.id, tracking, provider, decision.line_item_ids, deadline=deadline
            )
        except TikTokPermanentError as exc:
            fallback = fallback_to_package(decision, order, message)
            if exc.code != CODE_MARK_SHIPPED_NOT_OFFERED or fallback is None:
                raise
            api.ship_package(access, fallback.package_id, tracking, provider, deadline=deadline)
            return fallback.package_id
        return shipped.package_id
    if decision.action is Action.SHIP_PACKAGE:
        api.ship_package(access, decision.package_id, tracking, provider, deadline=deadline)
    else:
        api.update_shipping_info(access, decision.package_id, tracking, provider, deadline=deadline)
    return decision.package_id


def _verify(
    api: FulfilmentApi,
    access: ShopAccess,
    message: TrackingUpload,
    decision: Decision,
    deadline: Deadline,
    unknown: TikTokApiError,
) -> str:
    """The call may have been applied: look (package detail, or the order's lines) before
    anything is sent again. Applied: its package id. Not applied: retry (the next delivery
    checks TikTok first, as every delivery does)."""
    if decision.package_id:
        detail = api.get_package_detail(access, decision.package_id, deadline=deadline)
        if detail.tracking_number == message.tracking_number:
            logger.info(
                "outcome unknown: package detail shows it applied", action=decision.action.value
            )
            return decision.package_id
    else:
        order = _read_order(api, access, message.order_id, deadline)
        lines = [
            line
            for line in (order.line_items if order else [])
            if line.id in set(decision.line_item_ids)
        ]
        if lines and all(line.tracking_number == message.tracking_number for line in lines):
            logger.info("outcome unknown: the order shows it applied", action=decision.action.value)
            return lines[0].package_id
    raise _Retry(
        f"{decision.action.value} outcome unknown and not shown by TikTok ({unknown.message})"
    )


def record_shipment(
    shop_id: str, order: Order, shipment: UploadedShipment, context: UploadContext
) -> None:
    """The order record gains the shipment and "Order Shipped" (pending) in one conditional
    write; then the event is published and forgotten. Once per business key: a record that
    already holds it is left alone (its event was written with it)."""
    store = context.sync.store
    events: list[OutboundEvent] = []
    for _ in range(MAX_BOOKKEEPING_ATTEMPTS):
        now = context.clock()
        current = store.get_many(shop_id, [order.id]).get(order.id)
        if current is None:
            # Order sync has not stored the order yet: store it from what TikTok just said,
            # with its creation events and the shipment, in one write (as order sync would).
            record = OrderRecord.from_tiktok(
                shop_id, order, fetched_at_ms=int(now * 1000), source=OrderSource.WEBHOOK
            ).model_copy(update={"shipments": [shipment]})
            change = describe_change(None, record)
            events = [
                *order_events(change, datetime.fromtimestamp(now, UTC)),
                shipped_event(record, shipment, now),
            ]
            write = OrderWrite(
                stored=StoredOrder(
                    record=record,
                    revision=1,
                    pending_events={e.event_id: e.model_dump_json() for e in events},
                    pending_since_ms=int(now * 1000),
                ),
                expected_revision=None,
                reservations=reservation_changes(None, record),
            )
        else:
            record = current.record
            if any(s.business_key == shipment.business_key for s in record.shipments):
                return
            kept = [
                s
                for s in record.shipments
                if not (shipment.package_id and s.package_id == shipment.package_id)
            ]
            updated = record.model_copy(update={"shipments": [*kept, shipment]})
            events = [shipped_event(updated, shipment, now)]
            pending = {**current.pending_events, events[0].event_id: events[0].model_dump_json()}
            write = OrderWrite(
                stored=StoredOrder(
                    record=updated,
                    revision=current.revision + 1,
                    pending_events=pending,
                    pending_since_ms=(
                        current.pending_since_ms if current.pending_events else int(now * 1000)
                    ),
                ),
                expected_revision=current.revision,
                reservations=[],
            )
        if store.write(write):
            break
    else:
        raise StorageUnavailableError(
            f"order {order.id} kept changing while its shipment was stored"
        )
    try:
        context.sync.publisher.publish(events)
    except OutboundPublishError:
        # Kept pending on the record: order sync's pending sweep publishes it.
        logger.warning("order shipped event not published; kept pending", order_id=order.id)
        return
    try:
        store.clear_pending(shop_id, order.id, [e.event_id for e in events])
    except StorageUnavailableError:
        logger.warning("published event not cleared", order_id=order.id)


def shipped_event(record: OrderRecord, shipment: UploadedShipment, now: float) -> OutboundEvent:
    key = (
        f"{record.shop_id}|{record.order_id}|{OrderEventType.SHIPPED.value}|{shipment.business_key}"
    )
    return OutboundEvent.order_event(
        OrderEventType.SHIPPED,
        OrderEventDetail(
            event_id=hashlib.sha256(key.encode()).hexdigest()[:32],
            shop_id=record.shop_id,
            order_id=record.order_id,
            occurred_at=datetime.fromtimestamp(now, UTC),
            previous_status=record.status,
            changes=["shipments"],
            order=order_snapshot(record),
        ),
    )


def upload_audit_entry(
    message: TrackingUpload, result: UploadResult, *, sent_at: float | None, attempted_at: float
) -> AuditEntry | None:
    """The order's trail entry for a decided outcome (None for a duplicate: the entry of the
    upload it repeats stands). Keyed by the message (when SQS took it, else when it shipped),
    the shipment (a digest of its business key: never the tracking number) and the outcome
    and code: a redelivery rewrites its entry with the latest attempt; an upload retried and
    then done keeps both entries. Nothing of the tracking number, even in TikTok's words."""
    if result.outcome is UploadOutcome.DUPLICATE:
        return None
    shipment = hashlib.sha256(message.business_key.encode()).hexdigest()[:16]
    code = result.code.value if result.code else None
    reason = result.reason.replace(message.tracking_number, "<tracking number>")
    return tracking_upload(
        shop_id=message.shop_id,
        order_id=message.order_id,
        package_id=result.package_id or message.package_id or "",
        outcome=result.outcome.value,
        at=sent_at if sent_at is not None else float(message.shipped_at_epoch),
        ref=f"{shipment}#{result.outcome.value}" + (f"#{code}" if code else ""),
        provider_id=result.provider_id,
        action=result.action,
        reason=f"{result.outcome.value}: {reason}" if reason else "",
        code=code,
        tiktok_code=result.tiktok_code,
        attempted_at=attempted_at,
    )


def _release(context: UploadContext, message: TrackingUpload) -> None:
    with contextlib.suppress(StorageUnavailableError):  # else the lease lapses on its own
        context.store.release(message.shop_id, message.business_key)
