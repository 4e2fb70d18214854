"""The polling backstop and ops backfills: order search by update_time, through the same apply
path as webhooks (tts_sync.orders.sync). Search results are full orders: no detail calls.

The poll reads from the shop's watermark minus an overlap up to a little before now (orders
that changed seconds ago are most likely on their way through the webhook path; the next run's
overlap covers them), oldest first, and moves the watermark to the highest update time it
actually saw. What it applies, webhooks had missed: OrdersMissedByWebhooks, the number nobody
should need.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tts_sync.errors import TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.orders.models import OrderRecord, OrderSource
from tts_sync.orders.ports import OrderApi, ShopAccessSource, WatermarkStore
from tts_sync.orders.sync import (
    PENDING_GRACE_SECONDS,
    ApplyOutcome,
    ApplyReport,
    SyncContext,
    apply_states,
    recover_pending,
)
from tts_sync.tiktok import AccessTokenExpiredError, Deadline
from tts_sync.tiktok.models import MalformedOrder, Order, OrderSearchFilter

DAY = 86_400
MAX_BACKFILL_WINDOW_SECONDS = 30 * DAY
MAX_BACKFILL_AGE_SECONDS = 90 * DAY
# Apply a page at a time: bounded memory, and a run cut short keeps what it did.
APPLY_EVERY = 100
# Stop starting pages with less time than this left (a page and its writes take ~1-2 s).
MIN_SECONDS_PER_PAGE = 5.0
# Runs in a row failed orders may keep the watermark back (~50 min at the 10-minute
# schedule); then it moves past them (recorded on the watermark item, ReconcileOrdersSkipped):
# one order failing forever must not make every later run re-read an ever longer window.
GIVE_UP_HELD_RUNS = 5


@dataclass(frozen=True)
class PollPolicy:
    overlap_seconds: int = 600  # re-read this much before the watermark (late indexing)
    settle_seconds: int = 60  # leave the last minute to the webhooks
    first_run_lookback_seconds: int = DAY  # a shop without watermark: start a day back


@dataclass
class ShopSyncReport:
    shop_id: str
    seen: int = 0
    applied: int = 0
    unchanged: int = 0
    failed: int = 0
    malformed: int = 0  # orders TikTok returned that do not parse (also counted in failed)
    outside_range: int = 0  # TikTok returned orders outside the asked range (filtered out)
    recovered_events: int = 0
    complete: bool = True  # False: stopped early (deadline); the next run continues
    # The shop cannot be read: unknown, deauthorized, or its access token refused after the
    # client's refresh (the seller must reconnect). Nothing failed; nothing to retry now.
    not_connected: bool = False
    watermark: int | None = None
    failed_order_ids: list[str] = field(default_factory=list)
    skipped_order_ids: list[str] = field(default_factory=list)  # failed, watermark moved past


class BackfillRangeError(TtsSyncError):
    """The backfill window is empty, longer than 30 days, reaches past 90 days back or starts
    in the future."""


def reconcile_shop(
    shop_id: str,
    *,
    shops: ShopAccessSource,
    api: OrderApi,
    context: SyncContext,
    watermarks: WatermarkStore,
    policy: PollPolicy,
    deadline: Deadline,
) -> ShopSyncReport:
    now = int(context.clock())
    watermark = watermarks.get(shop_id)
    start = (
        watermark - policy.overlap_seconds
        if watermark is not None
        else now - policy.first_run_lookback_seconds
    )
    end = now - policy.settle_seconds
    report = sync_window(
        shop_id,
        start,
        end,
        source=OrderSource.POLL,
        shops=shops,
        api=api,
        context=context,
        deadline=deadline,
    )
    highest = report.watermark
    if report.failed == 0:
        if highest is not None:
            watermarks.advance(shop_id, highest)
    else:
        _hold_or_give_up(shop_id, report, watermarks, now)
    if report.applied:
        metrics.add_metric(
            name="OrdersMissedByWebhooks", unit=MetricUnit.Count, value=report.applied
        )
    # Added to what the apply path recovered on the orders it re-read (not replacing it).
    report.recovered_events += _recover_leftover_events(shop_id, context)
    return report


def _hold_or_give_up(
    shop_id: str, report: ShopSyncReport, watermarks: WatermarkStore, now: int
) -> None:
    failed = sorted(set(report.failed_order_ids))
    held_runs = watermarks.hold(shop_id, failed, now)
    if held_runs < GIVE_UP_HELD_RUNS or report.watermark is None:
        logger.warning(
            "watermark held: some orders failed",
            shop_id=shop_id,
            failed=report.failed,
            held_runs=held_runs,
        )
        return
    watermarks.advance_past(shop_id, report.watermark, failed, now)
    report.skipped_order_ids = failed
    logger.error(
        "watermark moved past orders that keep failing; the webhooks or a backfill must bring them",
        shop_id=shop_id,
        order_ids=failed,
        held_runs=held_runs,
    )
    metrics.add_metric(name="ReconcileOrdersSkipped", unit=MetricUnit.Count, value=len(failed))


def backfill_shop(
    shop_id: str,
    start: int,
    end: int,
    *,
    shops: ShopAccessSource,
    api: OrderApi,
    context: SyncContext,
    deadline: Deadline,
) -> ShopSyncReport:
    now = int(context.clock())
    if end <= start:
        raise BackfillRangeError("`to` must be after `from`")
    if end - start > MAX_BACKFILL_WINDOW_SECONDS:
        raise BackfillRangeError("a backfill window is at most 30 days: split it")
    if start < now - MAX_BACKFILL_AGE_SECONDS:
        raise BackfillRangeError("a backfill reaches at most 90 days back")
    if start >= now:  # a typo'd year would otherwise "import" nothing, successfully
        raise BackfillRangeError("`from` is in the future")
    return sync_window(
        shop_id,
        start,
        min(end, now),
        source=OrderSource.BACKFILL,
        shops=shops,
        api=api,
        context=context,
        deadline=deadline,
    )


def sync_window(
    shop_id: str,
    start: int,
    end: int,
    *,
    source: OrderSource,
    shops: ShopAccessSource,
    api: OrderApi,
    context: SyncContext,
    deadline: Deadline,
) -> ShopSyncReport:
    """Apply every order whose update_time is in [start, end), oldest first."""
    report = ShopSyncReport(shop_id)
    access = shops.access(shop_id)
    if access is None or end <= start:
        report.complete = access is not None
        report.not_connected = access is None
        return report
    search = OrderSearchFilter(update_time_ge=start, update_time_lt=end)
    batch: list[OrderRecord] = []
    malformed: list[MalformedOrder] = []
    orders = api.search_orders(
        access, search, sort_order="ASC", deadline=deadline, malformed=malformed
    )
    try:
        _read(shop_id, start, end, orders, source, context, deadline, report, batch)
    except AccessTokenExpiredError:
        # What was read before TikTok refused the token is applied (the watermark counts it).
        _apply(shop_id, batch, context, report)
        logger.warning("orders not polled: access token refused", shop_id=shop_id)
        metrics.add_metric(name="OrderPollShopNotConnected", unit=MetricUnit.Count, value=1)
        report.complete = False
        report.not_connected = True
    _malformed(shop_id, malformed, report)
    return report


def _read(
    shop_id: str,
    start: int,
    end: int,
    orders: Iterator[Order],
    source: OrderSource,
    context: SyncContext,
    deadline: Deadline,
    report: ShopSyncReport,
    batch: list[OrderRecord],
) -> None:
    """Apply the search's orders a page at a time; report.watermark: the highest seen."""
    highest: int | None = None
    for order in orders:
        if not start <= order.update_time < end:
            report.outside_range += 1  # TikTok refreshing its index: filter, never assume
            continue
        fetched_at_ms = int(context.clock() * 1000)
        batch.append(
            OrderRecord.from_tiktok(shop_id, order, fetched_at_ms=fetched_at_ms, source=source)
        )
        report.seen += 1
        highest = order.update_time if highest is None else max(highest, order.update_time)
        report.watermark = highest
        if len(batch) >= APPLY_EVERY:
            _apply(shop_id, list(batch), context, report)
            batch.clear()
            if deadline() < MIN_SECONDS_PER_PAGE:
                report.complete = False
                break
    _apply(shop_id, list(batch), context, report)
    batch.clear()


def _malformed(shop_id: str, malformed: list[MalformedOrder], report: ShopSyncReport) -> None:
    """Orders of the search that do not parse: failed alone (the watermark holds, the next
    run reads them again); field names logged, never values."""
    for order in malformed:
        logger.warning(
            "malformed order from TikTok; retried by the next run",
            shop_id=shop_id,
            order_id=order.order_id,
            problems=order.problems,
        )
        report.failed += 1
        report.malformed += 1
        report.failed_order_ids.append(order.order_id)
    if malformed:
        metrics.add_metric(name="OrderMalformed", unit=MetricUnit.Count, value=len(malformed))


def _apply(
    shop_id: str, records: list[OrderRecord], context: SyncContext, report: ShopSyncReport
) -> None:
    if not records:
        return
    applied = apply_states(shop_id, records, context)
    for order_id, outcome in applied.outcomes.items():
        if outcome is ApplyOutcome.APPLIED:
            report.applied += 1
        elif outcome is ApplyOutcome.UNCHANGED:
            report.unchanged += 1
        else:
            report.failed += 1
            report.failed_order_ids.append(order_id)
    report.recovered_events += applied.recovered


def _recover_leftover_events(shop_id: str, context: SyncContext) -> int:
    older_than_ms = int((context.clock() - PENDING_GRACE_SECONDS) * 1000)
    leftovers = context.store.with_pending_events(shop_id, older_than_ms)
    report = ApplyReport()
    recover_pending(shop_id, leftovers, context, report)
    return report.recovered
