"""Webhook-driven hydration: the webhook is a signal, Get Order Detail the truth.

Every order a batch of stream records names is fetched with as few calls as TikTok allows (50
distinct ids a call, across the whole batch) and applied through tts_sync.orders.sync. An order
a `code: 0` reply leaves out is not a success: its records are retried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from tts_sync.errors import StorageUnavailableError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.orders.models import OrderRecord, OrderSource
from tts_sync.orders.ports import MissingOrderLedger, OrderApi, ShopAccessSource
from tts_sync.orders.sync import ApplyOutcome, SyncContext, apply_states
from tts_sync.tiktok import (
    AccessTokenExpiredError,
    Deadline,
    ShopAccess,
    TikTokApiError,
    TikTokPermanentError,
)
from tts_sync.tiktok.client import ORDER_DETAIL_BATCH
from tts_sync.tiktok.errors import CODE_INVALID_SIGN, CODE_MISSING_SCOPE, CODE_SHOP_CIPHER_REQUIRED
from tts_sync.tiktok.models import MalformedOrder, Order


class HydrationOutcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    SHOP_NOT_CONNECTED = "shop_not_connected"  # nothing to do: no tokens to call TikTok with
    MISSING = "missing"  # code 0, but TikTok did not return the order: retry
    MALFORMED = "malformed"  # TikTok returned it with fields we cannot read: retry (then DLQ)
    NOT_FOUND = "not_found"  # left out for too long (another shop's id, a test webhook): kept
    REJECTED = "rejected"  # TikTok refuses the id itself (permanent, isolated): not retried
    FAILED = "failed"  # TikTok or storage failed: retry


RETRY_OUTCOMES = frozenset(
    {HydrationOutcome.MISSING, HydrationOutcome.MALFORMED, HydrationOutcome.FAILED}
)
# TikTok may lag behind its own webhook for a moment; an order still left out after this many
# replies is not coming: stop holding the stream's shard back for it. Attempts alone: the
# stream retries a record 10 times within seconds, so a wall-clock rule would rarely fire
# before the DLQ. It stays recorded (SyncStateTable) and the poll would still import it if
# TikTok ever lists it; an order TikTok does return forgets its misses.
GIVE_UP_MISSING_AFTER_ATTEMPTS = 5
# Permanent errors about the shop or the app, never about one id: no bisecting for these.
SHOP_WIDE_CODES = frozenset({CODE_MISSING_SCOPE, CODE_INVALID_SIGN, CODE_SHOP_CIPHER_REQUIRED})


@dataclass
class HydrationReport:
    outcomes: dict[str, HydrationOutcome] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    detail_calls: int = 0

    def failed(self, order_id: str, outcome: HydrationOutcome, reason: str) -> None:
        self.outcomes[order_id] = outcome
        self.reasons[order_id] = reason


def hydrate_orders(
    shop_id: str,
    order_ids: Iterable[str],
    *,
    shops: ShopAccessSource,
    api: OrderApi,
    context: SyncContext,
    missing_orders: MissingOrderLedger,
    deadline: Deadline,
) -> HydrationReport:
    ids = list(dict.fromkeys(order_ids))
    report = HydrationReport()
    access = shops.access(shop_id)
    if access is None:
        logger.info("orders not hydrated: shop not connected", shop_id=shop_id, orders=len(ids))
        metrics.add_metric(name="OrderEventShopNotConnected", unit=MetricUnit.Count, value=1)
        report.outcomes = dict.fromkeys(ids, HydrationOutcome.SHOP_NOT_CONNECTED)
        return report
    for start in range(0, len(ids), ORDER_DETAIL_BATCH):
        chunk = ids[start : start + ORDER_DETAIL_BATCH]
        fetch = _ChunkFetch(shop_id, access, api, deadline, report)
        try:
            orders = fetch.chunk(chunk)
        except AccessTokenExpiredError:
            # Still expired after the client's refresh (or the shop awaits consent): retrying
            # changes nothing until the seller reconnects, like a shop not connected.
            left = [i for i in ids[start:] if i not in report.outcomes]
            logger.warning(
                "orders not hydrated: access token refused", shop_id=shop_id, orders=len(left)
            )
            metrics.add_metric(name="OrderEventShopNotConnected", unit=MetricUnit.Count, value=1)
            report.outcomes.update(dict.fromkeys(left, HydrationOutcome.SHOP_NOT_CONNECTED))
            break
        malformed = fetch.malformed
        fetched_at_ms = int(context.clock() * 1000)
        records = [
            OrderRecord.from_tiktok(
                shop_id, order, fetched_at_ms=fetched_at_ms, source=OrderSource.WEBHOOK
            )
            for order in orders
            if order.id in chunk
        ]
        returned = {record.order_id for record in records}
        unreadable = _malformed(shop_id, chunk, malformed, report)
        for order_id in chunk:
            if order_id in report.outcomes:  # failed or rejected by TikTok
                continue
            if order_id not in returned and order_id not in unreadable:
                _missing(shop_id, order_id, missing_orders, int(context.clock()), report)
        _forget_missing(shop_id, [i for i in chunk if i in returned], missing_orders)
        _apply(shop_id, records, context, report)
    for outcome, metric in (
        (HydrationOutcome.MISSING, "OrderDetailMissing"),
        (HydrationOutcome.NOT_FOUND, "OrderNotFound"),
        (HydrationOutcome.MALFORMED, "OrderMalformed"),
        (HydrationOutcome.REJECTED, "OrderDetailRejected"),
    ):
        count = sum(1 for o in report.outcomes.values() if o is outcome)
        if count:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=count)
    return report


def _missing(
    shop_id: str, order_id: str, ledger: MissingOrderLedger, now: int, report: HydrationReport
) -> None:
    noted = ledger.note_missing(shop_id, order_id, now)
    if noted.attempts >= GIVE_UP_MISSING_AFTER_ATTEMPTS:
        logger.warning(
            "order not found: TikTok keeps leaving it out; kept, no longer retried",
            shop_id=shop_id,
            order_id=order_id,
            attempts=noted.attempts,
        )
        report.outcomes[order_id] = HydrationOutcome.NOT_FOUND
    else:
        report.failed(order_id, HydrationOutcome.MISSING, "order detail left it out")


class _ChunkFetch:
    """Get Order Detail for one chunk. A permanent error (not about the shop) is bisected to
    the id TikTok refuses: that id is REJECTED (not retried), the rest is fetched. When both
    halves fail permanently the error is not one id's: the whole chunk FAILED (retried, then
    kept by the stream's failure destination). At most two calls a level: about 2*log2(50)."""

    def __init__(
        self,
        shop_id: str,
        access: ShopAccess,
        api: OrderApi,
        deadline: Deadline,
        report: HydrationReport,
    ) -> None:
        self.shop_id, self.access, self.api, self.deadline = shop_id, access, api, deadline
        self.report = report
        self.malformed: list[MalformedOrder] = []

    def chunk(self, ids: list[str]) -> list[Order]:
        try:
            return self._call(ids)
        except TikTokPermanentError as error:
            if isinstance(error, AccessTokenExpiredError):
                raise
            if len(ids) > 1 and error.code not in SHOP_WIDE_CODES:
                return self._isolate(ids, error)
            self._fail(ids, error)
        except TikTokApiError as error:
            self._fail(ids, error)
        return []

    def _isolate(self, ids: list[str], error: TikTokPermanentError) -> list[Order]:
        middle = len(ids) // 2
        halves = (ids[:middle], ids[middle:])
        results: list[list[Order] | TikTokApiError] = []
        for half in halves:
            try:
                results.append(self._call(half))
            except TikTokPermanentError as half_error:
                if isinstance(half_error, AccessTokenExpiredError):
                    raise
                results.append(half_error)
            except TikTokApiError as half_error:
                self._fail(half, half_error)
                results.append([])
        refused = [r for r in results if isinstance(r, TikTokPermanentError)]
        if len(refused) == len(halves):  # not one id's fault
            self._fail(ids, error)
            return []
        orders: list[Order] = []
        for half, result in zip(halves, results, strict=True):
            if isinstance(result, TikTokPermanentError):
                if len(half) == 1:
                    self._reject(half[0], result)
                else:
                    orders.extend(self._isolate(half, result))
            elif isinstance(result, list):
                orders.extend(result)
        return orders

    def _call(self, ids: list[str]) -> list[Order]:
        self.report.detail_calls += 1
        return self.api.get_order_detail(
            self.access, ids, deadline=self.deadline, malformed=self.malformed
        )

    def _fail(self, ids: list[str], error: TikTokApiError) -> None:
        logger.warning(
            "order detail failed",
            shop_id=self.shop_id,
            orders=len(ids),
            error=type(error).__name__,
            code=error.code,
        )
        reason = f"order detail failed: {type(error).__name__}"
        for order_id in ids:
            self.report.failed(order_id, HydrationOutcome.FAILED, reason)

    def _reject(self, order_id: str, error: TikTokPermanentError) -> None:
        logger.warning(
            "order detail refuses this id; not retried",
            shop_id=self.shop_id,
            order_id=order_id,
            code=error.code,
            request_id=error.request_id,
        )
        self.report.outcomes[order_id] = HydrationOutcome.REJECTED
        self.report.reasons[order_id] = f"TikTok refuses the id (code {error.code})"


def _malformed(
    shop_id: str, chunk: list[str], malformed: list[MalformedOrder], report: HydrationReport
) -> set[str]:
    """Orders TikTok returned that do not parse: failed alone (the stream retries their
    records, then its failure destination keeps them); field names logged, never values."""
    unreadable = set()
    for order in malformed:
        logger.warning(
            "malformed order from TikTok; retried",
            shop_id=shop_id,
            order_id=order.order_id,
            problems=order.problems,
        )
        if order.order_id in chunk:
            unreadable.add(order.order_id)
            report.failed(
                order.order_id,
                HydrationOutcome.MALFORMED,
                f"malformed order from TikTok: {order.problems}",
            )
    return unreadable


def _forget_missing(shop_id: str, order_ids: list[str], ledger: MissingOrderLedger) -> None:
    if not order_ids:
        return
    try:
        ledger.forget(shop_id, order_ids)
    except StorageUnavailableError as error:
        # Bookkeeping only: the order itself is fine. A stale count may let a later lag of
        # the same order go a little sooner; the poll still imports it.
        logger.warning("missing-order counts not cleared", shop_id=shop_id, error=str(error))


def _apply(
    shop_id: str, records: list[OrderRecord], context: SyncContext, report: HydrationReport
) -> None:
    try:
        applied = apply_states(shop_id, records, context)
    except StorageUnavailableError as error:  # the batch read of the stored orders
        for record in records:
            report.failed(record.order_id, HydrationOutcome.FAILED, type(error).__name__)
        return
    for order_id, outcome in applied.outcomes.items():
        if outcome is ApplyOutcome.FAILED:
            report.failed(order_id, HydrationOutcome.FAILED, applied.errors[order_id])
        else:
            report.outcomes[order_id] = HydrationOutcome(outcome.value)
