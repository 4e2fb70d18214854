"""Carrying out a deletion request: one step per store, each idempotent and checkpointed on
the request's receipt, under a lease so concurrent copies of a request run one at a time.

A duplicate of a completed request changes nothing (its receipt is returned, its completion
event published if that had not happened yet). A run that crashes halfway leaves its finished
steps checkpointed and its lease to lapse: the retry resumes at the first unfinished step, and
every step is a pure function of the stored state, so the end state is the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tts_sync.errors import TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.outbound import EventPublisher
from tts_sync.privacy.models import (
    BuyerDeletionRequest,
    DeletionReceipt,
    ReceiptStatus,
    ShopDeletionRequest,
)
from tts_sync.privacy.outbound_events import deletion_completed_event
from tts_sync.privacy.ports import (
    EventPayloadStore,
    OrderPiiStore,
    PseudonymKey,
    QuarantineStore,
    ReceiptStore,
    ShopConnections,
)
from tts_sync.privacy.redaction import erase_order, erased_webhook_payload, mentions, pseudonym
from tts_sync.privacy.registry import EVENTS, ORDERS, QUARANTINE, SHOPS

MAX_ORDER_ATTEMPTS = 8
DEFAULT_LEASE_SECONDS = 900  # longer than the function's timeout: a live run keeps its lease


class ErasureInProgressError(TtsSyncError):
    """Another run holds this request: retry later (it will be done, or its lease lapsed)."""


class OrderErasureContendedError(TtsSyncError):
    """An order kept changing while it was erased: retry the request."""


@dataclass(frozen=True)
class ErasureContext:
    receipts: ReceiptStore
    orders: OrderPiiStore
    events: EventPayloadStore
    quarantine: QuarantineStore
    shops: ShopConnections
    publisher: EventPublisher
    pseudonym_key: PseudonymKey
    clock: Callable[[], float]
    lease_seconds: int = DEFAULT_LEASE_SECONDS


DeletionRequest = BuyerDeletionRequest | ShopDeletionRequest


def handle_request(request: DeletionRequest, context: ErasureContext) -> DeletionReceipt:
    now = context.clock()
    receipt = context.receipts.open(
        DeletionReceipt(
            request_id=request.request_id,
            status=ReceiptStatus.IN_PROGRESS,
            scope=request.scope,
            shop_id=request.shop_id,
            requester=request.requester,
            requested_at=request.requested_at,
            received_at=_utc(now),
        )
    )
    if receipt.done:
        logger.info("deletion request already done", request_id=request.request_id)
        return _publish_once(receipt, context)
    holder = uuid.uuid4().hex
    if not context.receipts.take_lease(request.request_id, holder, int(now), context.lease_seconds):
        raise ErasureInProgressError(f"request {request.request_id} is being erased by another run")
    try:
        for store, step in _steps(request, context):
            if store in receipt.erased:
                continue  # checkpointed by an earlier run
            count = step()
            context.receipts.record_step(request.request_id, store, count)
            logger.info(
                "deletion step done", request_id=request.request_id, store=store, count=count
            )
        completed = context.receipts.complete(request.request_id, _utc(context.clock()))
    except Exception:
        # The retry may start at once (a crash that kills the process lets the lease lapse).
        context.receipts.release_lease(request.request_id, holder)
        raise
    metrics.add_metric(name="PrivacyDeletionCompleted", unit=MetricUnit.Count, value=1)
    logger.info(
        "deletion request completed",
        request_id=request.request_id,
        scope=request.scope,
        shop_id=request.shop_id,
        erased=completed.erased,
    )
    return _publish_once(completed, context)


def reject(receipt: DeletionReceipt, context: ErasureContext) -> DeletionReceipt:
    """Record a refused request (its receipt says why) and tell the back office."""
    stored = context.receipts.open(receipt)
    if stored.status is ReceiptStatus.REJECTED:
        metrics.add_metric(name="PrivacyDeletionRejected", unit=MetricUnit.Count, value=1)
        logger.warning(
            "deletion request rejected", request_id=stored.request_id, reason=stored.reason
        )
    return _publish_once(stored, context)


def _publish_once(receipt: DeletionReceipt, context: ErasureContext) -> DeletionReceipt:
    if not receipt.done or receipt.event_published:
        return receipt
    context.publisher.publish([deletion_completed_event(receipt)])
    context.receipts.mark_published(receipt.request_id)
    return receipt.model_copy(update={"event_published": True})


def _steps(
    request: DeletionRequest, context: ErasureContext
) -> list[tuple[str, Callable[[], int]]]:
    if isinstance(request, ShopDeletionRequest):
        shop_id = request.shop_id
        return [
            (SHOPS, lambda: int(context.shops.disconnect(shop_id, int(context.clock())))),
            (ORDERS, lambda: erase_orders(shop_id, context.orders.order_ids(shop_id), context)),
            (EVENTS, lambda: _erase_events(shop_id, None, context)),
            (QUARANTINE, lambda: _erase_quarantined({shop_id}, context)),
        ]
    order_ids = _buyer_order_ids(request, context)
    needles = set(order_ids) | ({request.buyer_user_id} if request.buyer_user_id else set())
    return [
        (ORDERS, lambda: erase_orders(request.shop_id, order_ids, context)),
        (EVENTS, lambda: _erase_events(request.shop_id, needles, context)),
        (QUARANTINE, lambda: _erase_quarantined(needles, context)),
    ]


def _buyer_order_ids(request: BuyerDeletionRequest, context: ErasureContext) -> list[str]:
    """The orders named plus every order of the buyer, found by id or (after an earlier,
    interrupted run erased some) by pseudonym: the same set on every run."""
    ids = list(request.order_ids)
    if request.buyer_user_id:
        alias = pseudonym(context.pseudonym_key(), request.buyer_user_id)
        ids += context.orders.order_ids(request.shop_id, [request.buyer_user_id, alias])
    return sorted(set(ids))


def erase_orders(shop_id: str, order_ids: list[str], context: ErasureContext) -> int:
    """Erase the buyer data of these orders; how many exist (erased now or before)."""
    key = context.pseudonym_key()
    found = 0
    for order_id in order_ids:
        if erase_one(shop_id, order_id, key, context):
            found += 1
    return found


def erase_one(shop_id: str, order_id: str, key: bytes, context: ErasureContext) -> bool:
    for _ in range(MAX_ORDER_ATTEMPTS):
        stored = context.orders.get(shop_id, order_id)
        if stored is None:
            return False
        erased = erase_order(stored, key, int(context.clock()))
        if erased is None or context.orders.replace(erased, stored.revision):
            return True
        # Order sync wrote it meanwhile: erase its newer state.
    raise OrderErasureContendedError(f"order {order_id} kept changing while erased")


def _erase_events(shop_id: str, needles: set[str] | None, context: ErasureContext) -> int:
    """Stored webhooks of the shop naming the ids (all of them for None); how many."""
    count = 0
    now = int(context.clock())
    for key, payload in context.events.payloads(shop_id):
        if needles is not None and not mentions(payload, needles):
            continue
        count += 1
        erased = erased_webhook_payload(payload)
        if erased != payload:
            context.events.replace_payload(key, erased, now)
    return count


def _erase_quarantined(needles: set[str], context: ErasureContext) -> int:
    """Quarantined bodies are never work: any that names the ids is deleted."""
    count = 0
    for key, body in context.quarantine.bodies():
        if mentions(body.decode("utf-8", errors="replace"), needles):
            context.quarantine.delete(key)
            count += 1
    return count


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
