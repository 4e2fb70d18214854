"""Scheduled privacy work: the retention sweep (minimisation), the deauthorization grace
period, and the completion deadline of requests. Plain functions over the erasure ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.privacy.erasure import ErasureContext, erase_one, handle_request
from tts_sync.privacy.models import ShopDeletionRequest
from tts_sync.tiktok.retry import Deadline

REQUESTER_DEAUTHORIZATION = "deauthorization"
# Stop starting work with less than this left: the next scheduled run continues.
RESERVE_SECONDS = 10.0


@dataclass
class SweepReport:
    erased: int = 0
    deferred: bool = False
    request_ids: list[str] = field(default_factory=list)


def retention_sweep(
    context: ErasureContext, retention_seconds: int, deadline: Deadline
) -> SweepReport:
    """Erase the buyer data of orders completed or cancelled more than `retention_seconds`
    ago (TikTok's update_time); financial facts kept. Resumable: erased orders are skipped."""
    report = SweepReport()
    cutoff = int(context.clock()) - retention_seconds
    key = context.pseudonym_key()
    for shop_id, order_id in context.orders.finished_before(cutoff):
        if deadline() < RESERVE_SECONDS:
            report.deferred = True
            break
        if erase_one(shop_id, order_id, key, context):
            report.erased += 1
    if report.erased:
        metrics.add_metric(
            name="PrivacyRetentionErased", unit=MetricUnit.Count, value=report.erased
        )
    logger.info("retention sweep done", erased=report.erased, deferred=report.deferred)
    return report


def deauthorization_sweep(
    context: ErasureContext, grace_seconds: int, deadline: Deadline
) -> SweepReport:
    """Shops deauthorized more than `grace_seconds` ago (and not authorized again since) get
    a shop-scope erasure, with a receipt of its own (one per deauthorization)."""
    report = SweepReport()
    now = int(context.clock())
    for shop_id, since in sorted(context.shops.deauthorized_since().items()):
        if since > now - grace_seconds:
            continue  # still within the grace period: re-authorizing keeps the history
        if deadline() < RESERVE_SECONDS:
            report.deferred = True
            break
        request = ShopDeletionRequest(
            request_id=f"deauthorization-{shop_id}-{since}",
            shop_id=shop_id,
            scope="shop",
            requested_at=datetime.fromtimestamp(since, UTC),
            requester=REQUESTER_DEAUTHORIZATION,
        )
        receipt = handle_request(request, context)
        report.request_ids.append(receipt.request_id)
        report.erased += sum(receipt.erased.values())
    logger.info(
        "deauthorization sweep done", requests=len(report.request_ids), deferred=report.deferred
    )
    return report


def overdue_requests(context: ErasureContext, deadline_seconds: int) -> list[str]:
    """Requests still not completed `deadline_seconds` after they were received: the metric
    PrivacyDeletionOverdue (alarmed) and one log line each (ids only)."""
    now = context.clock()
    open_requests = context.receipts.in_progress()
    overdue = [
        receipt.request_id
        for receipt in open_requests
        if receipt.received_at.timestamp() < now - deadline_seconds
    ]
    metrics.add_metric(name="PrivacyDeletionOverdue", unit=MetricUnit.Count, value=len(overdue))
    # A gauge beside it for the dashboard: every request not completed yet, overdue or not.
    metrics.add_metric(name="PrivacyRequestsOpen", unit=MetricUnit.Count, value=len(open_requests))
    for request_id in overdue:
        logger.error("deletion request overdue", request_id=request_id)
    return overdue
