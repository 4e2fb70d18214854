"""Ops console events of the quantity export function (events/console/quantity_export_*.json),
told apart by their `job` field:

- {"job": "resync", "shop_id"}: push every mapped SKU of the shop from the last levels received,
  even values TikTok already confirmed.
- {"job": "buffer_rules", "shop_id", "rules"?}: show the shop's buffer rules; set them when
  `rules` is given ({"percent_listed", "fixed_reserve", "max_listed"}).
- {"job": "stock", "shop_id", "sku_id"?, "seller_sku"?}: what TikTok was told per SKU and
  warehouse, and why (a seller SKU is looked up in the catalog map).
- {"job": "refusals", "shop_id"}: levels never exported, with their reasons.
- {"job": "catalog_sync", "shop_id"}: rebuild the catalog map from Product Search / Detail;
  reports empty and duplicate seller SKUs, revives SKUs a refusal had blocked.
- {"job": "catalog_sync_all"}: the schedule's full sync, every connected shop in turn (a shop
  that fails is logged with metric CatalogSyncFailed; the others still run).
- {"job": "map_location", "shop_id", "location_id", "warehouse_id"}: map a back-office
  location to a TikTok sales warehouse (validated against the warehouses API).
- {"job": "unmap_location", "shop_id", "location_id"}: remove a mapping.
- {"job": "mappings", "shop_id"}: every mapping, with the warehouse's status now.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tts_sync.catalog.sync import sync_catalog
from tts_sync.catalog.warehouses import WarehouseMappingRefusedError, map_location, show_mappings
from tts_sync.errors import TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.stock.export import ExportOutcome, export_from_ledger
from tts_sync.stock.models import BufferRules
from tts_sync.stock.runtime import QuantityExportDependencies, quantity_export_dependencies
from tts_sync.tiktok.retry import Deadline

ShopId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]


class InvalidStockJobError(TtsSyncError):
    """The event is not a job of this function; the message says what is expected."""


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Resync(_Job):
    job: Literal["resync"]
    shop_id: ShopId


class BufferRulesJob(_Job):
    job: Literal["buffer_rules"]
    shop_id: ShopId
    rules: BufferRules | None = None


class ShowStock(_Job):
    job: Literal["stock"]
    shop_id: ShopId
    sku_id: str | None = None
    seller_sku: Annotated[str, Field(min_length=1, max_length=256)] | None = None


class ShowRefusals(_Job):
    job: Literal["refusals"]
    shop_id: ShopId


class CatalogSync(_Job):
    job: Literal["catalog_sync"]
    shop_id: ShopId


class CatalogSyncAll(_Job):
    job: Literal["catalog_sync_all"]


LocationId = Annotated[str, Field(min_length=1, max_length=128)]
WarehouseId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]


class MapLocation(_Job):
    job: Literal["map_location"]
    shop_id: ShopId
    location_id: LocationId
    warehouse_id: WarehouseId


class UnmapLocation(_Job):
    job: Literal["unmap_location"]
    shop_id: ShopId
    location_id: LocationId


class ShowMappings(_Job):
    job: Literal["mappings"]
    shop_id: ShopId


AnyStockJob = (
    Resync
    | BufferRulesJob
    | ShowStock
    | ShowRefusals
    | CatalogSync
    | CatalogSyncAll
    | MapLocation
    | UnmapLocation
    | ShowMappings
)
StockJob = Annotated[AnyStockJob, Field(discriminator="job")]
_JOB: TypeAdapter[AnyStockJob] = TypeAdapter(StockJob)
JOB_NAMES = (
    "resync",
    "buffer_rules",
    "stock",
    "refusals",
    "catalog_sync",
    "catalog_sync_all",
    "map_location",
    "unmap_location",
    "mappings",
)


def parse_stock_job(event: Any) -> AnyStockJob:
    try:
        return _JOB.validate_python(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise InvalidStockJobError(
            f"expected an SQS batch, a ReservationsTable stream batch or a job "
            f"({', '.join(JOB_NAMES)}): {problems}"
        ) from None


def handle_stock_job(event: Any, deadline: Deadline) -> dict[str, Any]:
    job = parse_stock_job(event)
    dependencies = quantity_export_dependencies()
    context = dependencies.export
    if isinstance(job, CatalogSyncAll):
        return _catalog_sync_all(dependencies, deadline)
    if isinstance(job, CatalogSync | MapLocation | UnmapLocation | ShowMappings):
        return _catalog_job(job, dependencies, deadline)
    if isinstance(job, Resync):
        report = export_from_ledger(job.shop_id, context, deadline, force=True)
        return {
            "job": job.job,
            "shop_id": job.shop_id,
            "inventory_calls": report.calls,
            "levels": {outcome.value: report.levels.get(outcome, 0) for outcome in ExportOutcome},
            "retry": sorted({r for r in report.reasons.values()}),
        }
    if isinstance(job, BufferRulesJob):
        if job.rules is not None:
            context.ledger.save_buffer_rules(job.shop_id, job.rules)
        rules = context.ledger.buffer_rules(job.shop_id)
        return {"job": job.job, "shop_id": job.shop_id, "rules": rules.model_dump()}
    if isinstance(job, ShowStock):
        sku_ids = [job.sku_id] if job.sku_id else None
        if job.seller_sku is not None:  # the SKU(s) the catalog map knows by this seller SKU
            found = context.catalog.skus_by_seller_sku(job.shop_id, {job.seller_sku})
            sku_ids = sorted({sku.sku_id for sku in found.values()} | set(sku_ids or []))
        entries = context.ledger.levels(job.shop_id, sku_ids) if sku_ids != [] else []
        return {
            "job": job.job,
            "shop_id": job.shop_id,
            "stock": [e.model_dump(exclude={"shop_id"}) for e in entries],
        }
    refusals = context.ledger.refusals(job.shop_id)
    return {
        "job": job.job,
        "shop_id": job.shop_id,
        "refusals": [r.model_dump(mode="json") for r in refusals],
    }


# Do not start a shop's sync with less time than this left; the next scheduled run takes it.
MIN_SECONDS_PER_SHOP = 10.0


def _catalog_sync_all(
    dependencies: QuantityExportDependencies, deadline: Deadline
) -> dict[str, Any]:
    if dependencies.shop_ids is None:
        raise InvalidStockJobError("catalog_sync_all: no shop list wired")
    synced: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    skipped: list[str] = []
    for shop_id in dependencies.shop_ids():
        access = dependencies.export.shops.access(shop_id)
        if access is None:
            continue  # not connected (or not usable)
        if deadline() < MIN_SECONDS_PER_SHOP:
            skipped.append(shop_id)
            continue
        try:
            report = sync_catalog(
                access,
                dependencies.catalog_api(),
                dependencies.catalog,
                dependencies.export.clock,
                deadline,
            )
        except Exception as exc:
            logger.exception("scheduled catalog sync failed", shop_id=shop_id)
            failed[shop_id] = type(exc).__name__
            continue
        synced[shop_id] = {
            "products": report.products,
            "skus": report.skus,
            "revived": len(report.revived),
            "empty_seller_skus": len(report.empty_seller_skus),
            "duplicate_seller_skus": len(report.duplicate_seller_skus),
        }
    if failed or skipped:
        metrics.add_metric(
            name="CatalogSyncFailed", unit=MetricUnit.Count, value=len(failed) + len(skipped)
        )
    return {"job": "catalog_sync_all", "synced": synced, "failed": failed, "out_of_time": skipped}


def _catalog_job(
    job: CatalogSync | MapLocation | UnmapLocation | ShowMappings,
    dependencies: QuantityExportDependencies,
    deadline: Deadline,
) -> dict[str, Any]:
    store = dependencies.catalog
    answer: dict[str, Any] = {"job": job.job, "shop_id": job.shop_id}
    if isinstance(job, UnmapLocation):
        answer["removed"] = store.delete_mapping(job.shop_id, job.location_id)
        return answer
    access = dependencies.export.shops.access(job.shop_id)
    if access is None:
        raise InvalidStockJobError(f"shop {job.shop_id} is not connected (or not usable)")
    api = dependencies.catalog_api()
    if isinstance(job, CatalogSync):
        report = sync_catalog(access, api, store, dependencies.export.clock, deadline)
        answer.update(report.model_dump(exclude={"shop_id"}))
    elif isinstance(job, MapLocation):
        try:
            view = map_location(
                access,
                job.location_id,
                job.warehouse_id,
                api,
                store,
                dependencies.export.clock,
                deadline,
            )
        except WarehouseMappingRefusedError as exc:
            answer.update(mapped=False, reason=str(exc))
        else:
            answer.update(mapped=True, mapping=view.model_dump())
    else:
        views = show_mappings(access, api, store, deadline)
        answer["mappings"] = [v.model_dump() for v in views]
    return answer
