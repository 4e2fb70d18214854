"""Entry logic of the order sync function: schedules and ops console events, told apart by
their `job` field (the schedules' Input in template.yaml sets it).

- {"job": "reconcile"} (every 10 minutes; "shop_id" limits it to one shop): the poll backstop.
- {"job": "ship_deadlines"} (hourly): seller-shipped orders near or past their ship-by time.
- {"job": "backfill", "shop_id", "from", "to"}: import a window (<= 30 days, <= 90 days back).
- {"job": "rejected_listings", "shop_id"}: listings TikTok rejected, with its reasons.
- {"job": "reservations", "shop_id", "sku_id"}: the units open orders hold on a SKU.
- {"job": "audit", "order_id", "shop_id"?}: the order's audit trail, in order (no PII).
- {"job": "order", "order_id", "shop_id"?}: the order record's state (no PII).
- {"job": "shop", "shop_id"}: the shop's status, token expiry times (never the tokens),
  webhook subscriptions.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from aws_lambda_powertools.metrics import single_metric
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from tts_sync.audit.models import order_subject
from tts_sync.audit.runtime import audit_dependencies
from tts_sync.audit.trail import order_trail, render_trail
from tts_sync.config import load_config
from tts_sync.console_jobs import parse_console_job
from tts_sync.deadline import Deadline
from tts_sync.errors import TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.ops.show import order_view, shop_view
from tts_sync.orders.deadlines import sweep_ship_deadlines
from tts_sync.orders.reconcile import BackfillRangeError, backfill_shop, reconcile_shop
from tts_sync.orders.reservations import ReservationState, units_by_sku
from tts_sync.orders.runtime import OrderSyncConfig, OrderSyncDependencies, order_sync_dependencies

ShopId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
# Stop starting shops with less time than this left; the next run continues.
MIN_SECONDS_PER_SHOP = 15.0


class InvalidOrderSyncEventError(TtsSyncError):
    """The event is not one of the jobs this function runs; the message says what is expected."""


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Reconcile(_Job):
    job: Literal["reconcile"]
    shop_id: ShopId | None = None


class ShipDeadlines(_Job):
    job: Literal["ship_deadlines"]


class Backfill(_Job):
    job: Literal["backfill"]
    shop_id: ShopId
    # With a zone ("...Z"): a naive time would be read in the container's local zone.
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")


class RejectedListings(_Job):
    job: Literal["rejected_listings"]
    shop_id: ShopId


class Reservations(_Job):
    job: Literal["reservations"]
    shop_id: ShopId
    sku_id: Annotated[str, Field(min_length=1, max_length=64)]


OrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]


class AuditTrail(_Job):
    job: Literal["audit"]
    order_id: OrderId
    shop_id: ShopId | None = None


class ShowOrder(_Job):
    job: Literal["order"]
    order_id: OrderId
    shop_id: ShopId | None = None


class ShowShop(_Job):
    job: Literal["shop"]
    shop_id: ShopId


AnyJob = (
    Reconcile
    | ShipDeadlines
    | Backfill
    | RejectedListings
    | Reservations
    | AuditTrail
    | ShowOrder
    | ShowShop
)
Job = Annotated[AnyJob, Field(discriminator="job")]
_JOB: TypeAdapter[AnyJob] = TypeAdapter(Job)
JOB_NAMES = (
    "reconcile",
    "ship_deadlines",
    "backfill",
    "rejected_listings",
    "reservations",
    "audit",
    "order",
    "shop",
)


def handle_order_sync_event(event: Any, deadline: Deadline) -> dict[str, Any]:
    job = parse_order_sync_event(event)
    dependencies = order_sync_dependencies()
    if isinstance(job, Reconcile):
        return _reconcile(job, dependencies, deadline)
    if isinstance(job, ShipDeadlines):
        config = load_config(OrderSyncConfig)
        report = sweep_ship_deadlines(
            dependencies.shops.shop_ids(),
            dependencies.sync.store,
            now=int(dependencies.clock()),
            warning_seconds=config.ship_warning_seconds,
        )
        return dataclasses.asdict(report)
    if isinstance(job, Backfill):
        return _backfill(job, dependencies, deadline)
    if isinstance(job, RejectedListings):
        listings = dependencies.listings.store.rejected(job.shop_id)
        return {
            "shop_id": job.shop_id,
            "rejected": [listing.model_dump(mode="json") for listing in listings],
        }
    if isinstance(job, AuditTrail | ShowOrder | ShowShop):
        return _show(job, dependencies)
    reservations = dependencies.sync.store.reservations(job.shop_id, job.sku_id)
    held = [r for r in reservations if r.state is ReservationState.HELD]
    return {
        "shop_id": job.shop_id,
        "sku_id": job.sku_id,
        "held_units": sum(r.units for r in held),
        "reservations": [r.model_dump(mode="json") for r in reservations],
    }


def _reconcile(
    job: Reconcile, dependencies: OrderSyncDependencies, deadline: Deadline
) -> dict[str, Any]:
    config = load_config(OrderSyncConfig)
    shop_ids = [job.shop_id] if job.shop_id else dependencies.shops.shop_ids()
    api = dependencies.order_api()
    reports, deferred, failed_shops = [], [], []
    for shop_id in shop_ids:
        if deadline() < MIN_SECONDS_PER_SHOP:
            deferred.append(shop_id)
            continue
        try:
            report = reconcile_shop(
                shop_id,
                shops=dependencies.shop_access,
                api=api,
                context=dependencies.sync,
                watermarks=dependencies.watermarks,
                policy=config.poll_policy,
                deadline=deadline,
            )
        except Exception as exc:
            logger.exception("reconciliation failed for a shop", shop_id=shop_id)
            failed_shops.append({"shop_id": shop_id, "error": type(exc).__name__})
            _count_failed_shop(shop_id)
            continue
        reports.append(dataclasses.asdict(report))
    summary = {
        "shops": len(reports),
        "orders_seen": sum(r["seen"] for r in reports),
        "missed_by_webhooks": sum(r["applied"] for r in reports),
        "failed_orders": sum(r["failed"] for r in reports),
        "recovered_events": sum(r["recovered_events"] for r in reports),
        "deferred_shops": deferred,
        "failed_shops": failed_shops,
        "per_shop": reports,
    }
    logger.info("reconciliation finished", **{k: v for k, v in summary.items() if k != "per_shop"})
    return summary


def _count_failed_shop(shop_id: str) -> None:
    """ReconcileShopFailed: with the function's dimensions only (ReconcileShopFailedAlarm),
    and once more per shop (dimension shop_id) to see which shop keeps failing."""
    metrics.add_metric(name="ReconcileShopFailed", unit=MetricUnit.Count, value=1)
    with single_metric(
        name="ReconcileShopFailed",
        unit=MetricUnit.Count,
        value=1,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name="shop_id", value=shop_id)


def _backfill(
    job: Backfill, dependencies: OrderSyncDependencies, deadline: Deadline
) -> dict[str, Any]:
    try:
        report = backfill_shop(
            job.shop_id,
            int(job.start.timestamp()),
            int(job.end.timestamp()),
            shops=dependencies.shop_access,
            api=dependencies.order_api(),
            context=dependencies.sync,
            deadline=deadline,
        )
    except BackfillRangeError as exc:
        raise InvalidOrderSyncEventError(f"backfill: {exc}") from None
    result = dataclasses.asdict(report)
    result["imported"] = result.pop("applied")
    logger.info("backfill finished", **{k: v for k, v in result.items() if k != "failed_order_ids"})
    return result


def _show(
    job: AuditTrail | ShowOrder | ShowShop, dependencies: OrderSyncDependencies
) -> dict[str, Any]:
    """The ops views (tts-sync ops audit / show): no PII, never tokens."""
    if isinstance(job, ShowShop):
        shop = dependencies.shops.get(job.shop_id)
        if shop is None:
            raise InvalidOrderSyncEventError(f"shop: no shop {job.shop_id} is stored")
        return {"job": job.job, "shop": shop_view(shop, dependencies.clock())}
    reader = audit_dependencies().reader
    if isinstance(job, AuditTrail):
        trail = order_trail(reader, job.order_id, job.shop_id)
        return {"job": job.job, **trail.as_dict(), "text": render_trail(trail)}
    shop_id = job.shop_id
    if shop_id is None:  # the trail knows the order's shop (order ids are global on TikTok)
        first = reader.entries(order_subject(job.order_id), limit=1)
        if not first:
            raise InvalidOrderSyncEventError(
                f"order: no audit entry names order {job.order_id}; give its shop_id"
            )
        shop_id = first[0].shop_id
    stored = dependencies.sync.store.get_many(shop_id, [job.order_id]).get(job.order_id)
    if stored is None:
        return {"job": job.job, "shop_id": shop_id, "order_id": job.order_id, "order": None}
    reservations = [
        r
        for sku_id in sorted(set(units_by_sku(stored.record)))
        for r in dependencies.sync.store.reservations(shop_id, sku_id)
        if r.order_id == job.order_id
    ]
    return {"job": job.job, "order": order_view(stored, reservations)}


def parse_order_sync_event(event: Any) -> AnyJob:
    """The job `event` asks for; InvalidOrderSyncEventError says precisely what is wrong."""
    return parse_console_job(
        event, _JOB, JOB_NAMES, InvalidOrderSyncEventError, "events/console/order_sync_*.json"
    )
