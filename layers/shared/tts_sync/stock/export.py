"""The export: back-office levels -> one inventory update per product, every warehouse of each
SKU touched, exactly once in effect, never oversold.

Per batch (and per shop):
1. Resolve each level: shop connected, SKU in the catalog map and pushable, location mapped,
   the SKU stocked in that warehouse. Anything else is refused with the reason (recorded).
2. Coalesce: the newest as_of per SKU and warehouse wins; the others are superseded.
3. Record the level in the ledger unless a newer as_of is stored (an older level arriving
   late never overwrites a newer one).
4. Compute the number (stock/quantity.py): reservations held by TikTok orders created after
   as_of, the shop's buffer rules, 0..99,999. Equal to what TikTok last confirmed: suppressed.
5. One call per product; warehouses without a new level carry their last confirmed value.
   data.errors[] fails only the SKUs (warehouses, from extra_errors) it names: permanent codes
   refuse them and block the catalog entry, others retry. Throttling, 5xx, timeouts retry.
6. Confirm in the ledger only if no newer level arrived while the call was in flight; if one
   did, push again from the newest level (so TikTok never ends on the older value).

Redelivered messages compute the same number and are suppressed once confirmed; a crash after
TikTok applied an update and before the ledger write re-sends the same value (harmless).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tts_sync.audit import models as audit_models
from tts_sync.audit.models import AuditEntry
from tts_sync.audit.ports import NO_AUDIT, AuditLog
from tts_sync.audit.trail import stock_export, write_audit
from tts_sync.catalog import models as catalog_models
from tts_sync.catalog.models import CatalogSku
from tts_sync.errors import StorageUnavailableError
from tts_sync.models_build import build_deferred
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.orders.ports import ShopAccessSource
from tts_sync.orders.reservations import Reservation
from tts_sync.shops import models as shop_models
from tts_sync.stock import models as stock_models
from tts_sync.stock.models import (
    OUTCOME_RANK,
    ExportOutcome,
    Refusal,
    SkuWarehouseStock,
    StockLevel,
)
from tts_sync.stock.ports import (
    CatalogMap,
    HeldReservations,
    InventoryApi,
    StockKey,
    StockLedger,
    WarehouseMap,
)
from tts_sync.stock.quantity import listed_quantity, reserved_after
from tts_sync.tiktok import Deadline, ShopAccess, TikTokPermanentError, TikTokRetryableError
from tts_sync.tiktok import models as tiktok_models
from tts_sync.tiktok.models import SkuStock
from tts_sync.tiktok.models import StockLevel as WarehouseQuantity

# Per-SKU codes that no retry fixes (tiktok-shop-api.md section 4): product deleted or not in
# the shop, invalid product, SKU not live / without a valid warehouse, warehouse list mismatch
# (the catalog map is stale). The catalog entry is blocked until a catalog sync revives it.
PERMANENT_ITEM_CODES = frozenset(
    {12052048, 12052260, 12052031, 12052032, 12019022, 12019028, 12052037, 12052533}
)
# Call-level codes meaning the product itself is gone.
PRODUCT_GONE_CODES = frozenset({12052048, 12052260, 12052031, 12052032})
MAX_PUSH_ROUNDS = 3
PRODUCT_CALLS_IN_FLIGHT = 8
METRIC_BY_OUTCOME = {
    ExportOutcome.EXPORTED: "QuantityExported",
    ExportOutcome.UNCHANGED: "QuantitySuppressed",
    ExportOutcome.SUPERSEDED: "QuantitySuperseded",
    ExportOutcome.REFUSED: "QuantityRefused",
    ExportOutcome.RETRY: "QuantityRetried",
}


@dataclass(frozen=True)
class ExportContext:
    catalog: CatalogMap
    warehouses: WarehouseMap
    ledger: StockLedger
    reservations: HeldReservations
    shops: ShopAccessSource
    api: Callable[[], InventoryApi]  # a factory: a batch of refusals never reads the secret
    clock: Callable[[], float]
    audit: AuditLog = NO_AUDIT  # per SKU and warehouse pushed (read with the orders holding it)


@dataclass(frozen=True)
class IncomingLevel:
    message_id: str
    level: StockLevel


@dataclass
class ExportReport:
    outcomes: dict[str, ExportOutcome] = field(default_factory=dict)  # message id -> worst
    reasons: dict[str, str] = field(default_factory=dict)  # message id -> why (refused/retry)
    levels: Counter[ExportOutcome] = field(default_factory=Counter)  # per level / key
    calls: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    def merge(self, other: ExportReport) -> None:
        for message_id, outcome in other.outcomes.items():
            self.mark(message_id, outcome, other.reasons.get(message_id, ""))
        self.levels.update(other.levels)
        self.calls += other.calls
        self.refusals += other.refusals

    def mark(self, message_id: str, outcome: ExportOutcome, reason: str = "") -> None:
        current = self.outcomes.get(message_id)
        if current is None or OUTCOME_RANK[outcome] > OUTCOME_RANK[current]:
            self.outcomes[message_id] = outcome
            if reason:
                self.reasons[message_id] = reason


@dataclass
class _Work:
    """One (SKU, warehouse) to push: the level it comes from and the messages it answers."""

    sku: CatalogSku
    warehouse_id: str
    available: int
    as_of: float
    message_ids: list[str]
    entry: SkuWarehouseStock

    @property
    def key(self) -> StockKey:
        return (self.sku.sku_id, self.warehouse_id)


def export_levels(
    incoming: Sequence[IncomingLevel], context: ExportContext, deadline: Deadline
) -> ExportReport:
    report = ExportReport()
    by_shop: dict[str, list[IncomingLevel]] = defaultdict(list)
    for item in incoming:
        by_shop[item.level.shop_id].append(item)
    for shop_id, items in by_shop.items():
        try:
            _export_shop(shop_id, items, context, deadline, report)
        except StorageUnavailableError as exc:
            logger.warning("quantity export storage unavailable", shop_id=shop_id, error=str(exc))
            for item in items:
                report.mark(item.message_id, ExportOutcome.RETRY, f"storage unavailable: {exc}")
    _record_refusals(report, context)
    _count(report)
    return report


def export_from_ledger(
    shop_id: str,
    context: ExportContext,
    deadline: Deadline,
    *,
    sku_ids: Iterable[str] | None = None,
    force: bool = False,
) -> ExportReport:
    """Push from the last levels received: the full resync (force: even values TikTok already
    confirmed) and the re-export after new reservations (SKUs with a held order)."""
    report = ExportReport()
    access = context.shops.access(shop_id)
    if access is None:
        report.refusals.append(_refusal(shop_id, "resync", f"shop {shop_id} is not connected"))
    else:
        if sku_ids is None:
            entries = context.ledger.levels(shop_id)
            catalog = context.catalog.skus_by_id(shop_id, {e.sku_id for e in entries})
        else:
            # Only these SKUs' entries (point reads), not the shop's whole ledger.
            catalog = context.catalog.skus_by_id(shop_id, set(sku_ids))
            keys = [(s.sku_id, w) for s in catalog.values() for w in s.warehouse_ids]
            entries = list(context.ledger.get(shop_id, keys).values())
        works = []
        for entry in entries:
            sku = catalog.get(entry.sku_id)
            if entry.level_available is None or entry.level_as_of is None:
                continue
            if sku is None or not sku.pushable or entry.warehouse_id not in sku.warehouse_ids:
                report.levels[ExportOutcome.REFUSED] += 1
                continue
            works.append(
                _Work(
                    sku,
                    entry.warehouse_id,
                    entry.level_available,
                    entry.level_as_of,
                    [f"ledger:{entry.sku_id}:{entry.warehouse_id}"],
                    entry,
                )
            )
        _push(access, works, context, deadline, report, force=force)
    _record_refusals(report, context)
    _count(report)
    return report


# ---------------------------------------------------------------------- steps


def _export_shop(
    shop_id: str,
    items: list[IncomingLevel],
    context: ExportContext,
    deadline: Deadline,
    report: ExportReport,
) -> None:
    access = context.shops.access(shop_id)
    if access is None:
        for item in items:
            _refuse(report, item, f"unknown shop {shop_id}: not connected, or not usable")
        return
    resolved = _resolve(shop_id, items, context, report)
    newest: dict[StockKey, tuple[IncomingLevel, CatalogSku, str]] = {}
    for item, sku, warehouse_id in resolved:
        key = (sku.sku_id, warehouse_id)
        held = newest.get(key)
        if held is None or item.level.as_of_epoch >= held[0].level.as_of_epoch:
            if held is not None:
                _supersede(report, held[0])
            newest[key] = (item, sku, warehouse_id)
        else:
            _supersede(report, item)
    candidates = []
    for item, sku, warehouse_id in newest.values():
        entry = SkuWarehouseStock(
            shop_id=shop_id,
            sku_id=sku.sku_id,
            warehouse_id=warehouse_id,
            product_id=sku.product_id,
            seller_sku=sku.seller_sku,
            location_id=item.level.location_id or "",
            level_available=item.level.available,
            level_as_of=item.level.as_of_epoch,
            level_message_id=item.message_id,
        )
        candidates.append((item, sku, warehouse_id, entry))
    recorded = context.ledger.record_levels([c[3] for c in candidates]) if candidates else []
    works = []
    for (item, sku, warehouse_id, entry), fresh in zip(candidates, recorded, strict=True):
        if not fresh:
            _supersede(report, item)  # a newer as_of came in an earlier batch
            continue
        works.append(
            _Work(
                sku,
                warehouse_id,
                item.level.available,
                item.level.as_of_epoch,
                [item.message_id],
                entry,
            )
        )
    _push(access, works, context, deadline, report)


def _resolve(
    shop_id: str, items: list[IncomingLevel], context: ExportContext, report: ExportReport
) -> list[tuple[IncomingLevel, CatalogSku, str]]:
    levels = [item.level for item in items]
    by_seller = context.catalog.skus_by_seller_sku(
        shop_id, {lv.seller_sku for lv in levels if lv.seller_sku is not None}
    )
    by_id = context.catalog.skus_by_id(
        shop_id, {lv.sku_id for lv in levels if lv.sku_id is not None}
    )
    mappings = (
        context.warehouses.mappings(shop_id)
        if any(lv.location_id is not None for lv in levels)
        else {}
    )
    resolved = []
    for item in items:
        level = item.level
        if level.seller_sku is not None:
            sku = by_seller.get(level.seller_sku)
            if sku is None:
                _refuse(report, item, f"seller_sku {level.seller_sku!r} is not in the catalog map")
                continue
        else:
            sku = by_id.get(level.sku_id or "")
            if sku is None:
                _refuse(report, item, f"sku_id {level.sku_id} is not in the catalog map")
                continue
            if sku.product_id != level.product_id:
                _refuse(
                    report,
                    item,
                    f"sku_id {level.sku_id} belongs to product {sku.product_id}, "
                    f"not {level.product_id}",
                )
                continue
        if not sku.pushable:
            why = sku.blocked_reason or f"status {sku.status}"
            _refuse(report, item, f"SKU {sku.sku_id} does not accept stock ({why})")
            continue
        if level.location_id is not None:
            mapping = mappings.get(level.location_id)
            if mapping is None:
                _refuse(report, item, f"location_id {level.location_id!r} is not mapped")
                continue
            warehouse_id = mapping.warehouse_id
        else:
            warehouse_id = level.warehouse_id or ""
        if warehouse_id not in sku.warehouse_ids:
            _refuse(
                report,
                item,
                f"SKU {sku.sku_id} is not stocked in warehouse {warehouse_id} on TikTok "
                f"(it is in {', '.join(sku.warehouse_ids) or 'none'})",
            )
            continue
        resolved.append((item, sku, warehouse_id))
    return resolved


def _push(
    access: ShopAccess,
    works: list[_Work],
    context: ExportContext,
    deadline: Deadline,
    report: ExportReport,
    *,
    force: bool = False,
) -> None:
    shop_id = access.shop_id
    rules = context.ledger.buffer_rules(shop_id) if works else None
    for round_number in range(MAX_PUSH_ROUNDS):
        if not works:
            return
        assert rules is not None
        keys = {(w.sku.sku_id, wh) for w in works for wh in w.sku.warehouse_ids}
        states = context.ledger.get(shop_id, keys)
        changed: dict[str, dict[str, list[tuple[_Work, int, int]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        # One query: every reservation of orders created since the oldest count of the round.
        reservations: dict[str, list[Reservation]] = defaultdict(list)
        since = math.floor(min(w.as_of for w in works))
        for held in context.reservations.held_since(shop_id, since):
            reservations[held.sku_id].append(held)
        for work in works:
            sku_id = work.sku.sku_id
            reserved = reserved_after(reservations[sku_id], work.as_of)
            value = listed_quantity(work.available, reserved, rules)
            state = states.get(work.key)
            if not force and state is not None and state.confirmed_value == value:
                _settle(report, work, ExportOutcome.UNCHANGED)
                continue
            changed[work.sku.product_id][sku_id].append((work, value, reserved))
        again: list[_Work] = []
        for sub, superseded in _each_product(access, changed, states, context, deadline):
            report.merge(sub)
            again += superseded
        works = _reloaded(shop_id, again, context) if round_number < MAX_PUSH_ROUNDS - 1 else again
    for work in works:
        _settle(report, work, ExportOutcome.RETRY, "newer levels kept arriving during the push")


def _each_product(
    access: ShopAccess,
    changed: dict[str, dict[str, list[tuple[_Work, int, int]]]],
    states: dict[StockKey, SkuWarehouseStock],
    context: ExportContext,
    deadline: Deadline,
) -> list[tuple[ExportReport, list[_Work]]]:
    """The products' calls, PRODUCT_CALLS_IN_FLIGHT at a time: one shop's budget is R calls a
    second and a call takes a round trip, so one at a time could never use the budget. The
    shared limiter still paces every call; each call reports into its own report."""

    def one(
        item: tuple[str, dict[str, list[tuple[_Work, int, int]]]],
    ) -> tuple[ExportReport, list[_Work]]:
        sub = ExportReport()
        return sub, _push_product(access, item[0], item[1], states, context, deadline, sub)

    if len(changed) <= 1:
        return [one(item) for item in changed.items()]
    # The threads may be the first users of these deferred models (the request, the answer,
    # the ledger, catalog and audit entries, a token refresh): built here, once per container,
    # as pydantic 2.13 builds a model on first use with no lock (tts_sync.models_build).
    build_deferred(tiktok_models, stock_models, catalog_models, audit_models, shop_models)
    context.api()  # the client (and the secret it reads) made once, not by each thread at once
    with ThreadPoolExecutor(max_workers=min(PRODUCT_CALLS_IN_FLIGHT, len(changed))) as pool:
        return list(pool.map(one, changed.items()))


def _push_product(
    access: ShopAccess,
    product_id: str,
    skus: dict[str, list[tuple[_Work, int, int]]],
    states: dict[StockKey, SkuWarehouseStock],
    context: ExportContext,
    deadline: Deadline,
    report: ExportReport,
) -> list[_Work]:
    """One inventory update call for the product; returns works superseded in flight."""
    shop_id = access.shop_id
    payload: list[SkuStock] = []
    pending: dict[str, list[tuple[_Work, int, int]]] = {}
    for sku_id, entries in skus.items():
        sku = entries[0][0].sku
        new_values = {work.warehouse_id: value for work, value, _ in entries}
        quantities = []
        missing = []
        for warehouse_id in sku.warehouse_ids:
            if warehouse_id in new_values:
                quantity: int | None = new_values[warehouse_id]
            else:
                state = states.get((sku_id, warehouse_id))
                quantity = state.confirmed_value if state else None
                if quantity is None:
                    quantity = sku.quantities.get(warehouse_id)
            if quantity is None:
                missing.append(warehouse_id)
            else:
                quantities.append(WarehouseQuantity(warehouse_id=warehouse_id, quantity=quantity))
        if missing:
            for work, _, _ in entries:
                _settle(
                    report,
                    work,
                    ExportOutcome.REFUSED,
                    f"SKU {sku_id} is also in warehouse(s) {', '.join(missing)} with no known "
                    "quantity: TikTok needs every warehouse; send their levels or run a catalog "
                    "sync",
                )
            continue
        payload.append(SkuStock(sku_id=sku_id, levels=quantities))
        pending[sku_id] = entries
    if not payload:
        return []
    now = context.clock
    report.calls += 1
    try:
        outcome = context.api().update_stock(access, product_id, payload, deadline=deadline)
    except TikTokRetryableError as exc:
        reason = f"TikTok unavailable for product {product_id}: {type(exc).__name__} ({exc.code})"
        for entries in pending.values():
            for work, _, _ in entries:
                _settle(report, work, ExportOutcome.RETRY, reason)
        return []
    except TikTokPermanentError as exc:
        if exc.code in PRODUCT_GONE_CODES:
            reason = f"TikTok refused product {product_id}: code {exc.code} {exc.message}"
            for sku_id, entries in pending.items():
                context.catalog.block_sku(shop_id, sku_id, reason)
                for work, _, _ in entries:
                    _settle(report, work, ExportOutcome.REFUSED, reason, code=exc.code)
        else:
            # Credentials, signature, request shape: not the SKU's fault; retried, then kept
            # by the DLQ with this reason in the log.
            reason = f"TikTok refused the call: {type(exc).__name__} code {exc.code}"
            for entries in pending.values():
                for work, _, _ in entries:
                    _settle(report, work, ExportOutcome.RETRY, reason)
        return []
    failed_keys: dict[StockKey, tuple[int, str]] = {}
    failed_skus: dict[str, tuple[int, str]] = {}
    for error in outcome.failed:
        why = (error.code, f"TikTok code {error.code}: {error.message}")
        named = error.warehouse_ids or ([error.warehouse_id] if error.warehouse_id else [])
        if not error.sku_id:
            failed_skus.update(dict.fromkeys(pending, why))
        elif named and error.code not in PERMANENT_ITEM_CODES:
            for warehouse_id in named:
                failed_keys[(error.sku_id, warehouse_id)] = why
        else:
            failed_skus[error.sku_id] = why
    superseded: list[_Work] = []
    confirmed: list[tuple[_Work, int, int]] = []
    audit = []
    for sku_id, entries in pending.items():
        for work, value, reserved in entries:
            failure = failed_skus.get(sku_id) or failed_keys.get(work.key)
            if failure is None:
                confirmed.append((work, value, reserved))
                continue
            code, reason = failure
            audit.append(_exported(work, value, reserved, now(), reason=reason, code=code))
            context.ledger.record_failure(shop_id, work.key, value=value, error=reason, at=now())
            if code in PERMANENT_ITEM_CODES:
                context.catalog.block_sku(shop_id, sku_id, reason)
                _settle(report, work, ExportOutcome.REFUSED, reason, code=code)
            else:
                _settle(report, work, ExportOutcome.RETRY, reason)
    if not confirmed:
        write_audit(context.audit, audit)
        return superseded
    results = context.ledger.record_confirmations(
        [
            (work.entry.model_copy(update={"level_as_of": work.as_of}), value, reserved)
            for work, value, reserved in confirmed
        ],
        at=now(),
    )
    for (work, value, reserved), recorded in zip(confirmed, results, strict=True):
        audit.append(_exported(work, value, reserved, now(), confirmed=recorded))
        if recorded:
            _settle(report, work, ExportOutcome.EXPORTED)
        else:
            superseded.append(work)
    write_audit(context.audit, audit)
    return superseded


def _exported(
    work: _Work,
    value: int,
    reserved: int,
    at: float,
    *,
    confirmed: bool = False,
    reason: str = "",
    code: int | None = None,
) -> AuditEntry:
    """The SKU's audit entry for this push (a newer level in flight: sent, not confirmed)."""
    if reason:
        outcome = "refused" if code in PERMANENT_ITEM_CODES else "retry"
    else:
        outcome = "confirmed" if confirmed else "superseded in flight"
    return stock_export(
        shop_id=work.sku.shop_id,
        sku_id=work.sku.sku_id,
        warehouse_id=work.warehouse_id,
        value=value,
        reserved_units=reserved,
        confirmed=confirmed,
        outcome=outcome,
        at=at,
        reason=reason,
        code=code,
    )


def _reloaded(shop_id: str, works: list[_Work], context: ExportContext) -> list[_Work]:
    """Works whose level was superseded in flight, rebuilt from the newest stored level."""
    if not works:
        return []
    states = context.ledger.get(shop_id, [w.key for w in works])
    fresh = []
    for work in works:
        state = states.get(work.key)
        if state is None or state.level_available is None or state.level_as_of is None:
            continue
        logger.info(
            "newer level arrived during the push; pushing it",
            shop_id=shop_id,
            sku_id=work.sku.sku_id,
            warehouse_id=work.warehouse_id,
        )
        fresh.append(
            _Work(
                work.sku,
                work.warehouse_id,
                state.level_available,
                state.level_as_of,
                work.message_ids,
                state,
            )
        )
    return fresh


# ---------------------------------------------------------------------- bookkeeping


def _refuse(report: ExportReport, item: IncomingLevel, reason: str) -> None:
    report.levels[ExportOutcome.REFUSED] += 1
    report.mark(item.message_id, ExportOutcome.REFUSED, reason)
    report.refusals.append(
        _refusal(
            item.level.shop_id,
            item.message_id,
            reason,
            sku_ref=item.level.sku_ref,
            location_ref=item.level.location_ref,
        )
    )


def _supersede(report: ExportReport, item: IncomingLevel) -> None:
    report.levels[ExportOutcome.SUPERSEDED] += 1
    report.mark(item.message_id, ExportOutcome.SUPERSEDED)


def _settle(
    report: ExportReport,
    work: _Work,
    outcome: ExportOutcome,
    reason: str = "",
    *,
    code: int | None = None,
) -> None:
    report.levels[outcome] += 1
    for message_id in work.message_ids:
        report.mark(message_id, outcome, reason)
        if outcome is ExportOutcome.REFUSED:
            report.refusals.append(
                _refusal(
                    work.sku.shop_id,
                    message_id,
                    reason,
                    sku_ref=work.sku.seller_sku or work.sku.sku_id,
                    location_ref=work.warehouse_id,
                    code=code,
                )
            )
    if outcome is ExportOutcome.RETRY:
        logger.warning(
            "quantity export will be retried",
            shop_id=work.sku.shop_id,
            sku_id=work.sku.sku_id,
            warehouse_id=work.warehouse_id,
            reason=reason,
        )


def _refusal(shop_id: str, message_id: str, reason: str, **fields: object) -> Refusal:
    return Refusal.model_validate(
        {
            "shop_id": shop_id,
            "message_id": message_id,
            "reason": reason,
            "refused_at": datetime.now(UTC),
            **fields,
        }
    )


def _record_refusals(report: ExportReport, context: ExportContext) -> None:
    for refusal in report.refusals:
        try:
            context.ledger.record_refusal(refusal)
        except StorageUnavailableError:
            # Not recorded: the message comes back (and the DLQ keeps it after the limit).
            report.mark(refusal.message_id, ExportOutcome.RETRY, "refusal not recorded")
        else:
            logger.warning(
                "quantity level refused",
                shop_id=refusal.shop_id,
                message_id=refusal.message_id,
                reason=refusal.reason,
            )


def _count(report: ExportReport) -> None:
    for outcome, count in report.levels.items():
        if count:
            metrics.add_metric(name=METRIC_BY_OUTCOME[outcome], unit=MetricUnit.Count, value=count)
    if report.calls:
        metrics.add_metric(name="InventoryUpdateCalls", unit=MetricUnit.Count, value=report.calls)
