"""The catalog sync: seller SKU -> TikTok product id, SKU id, status and the warehouses each SKU
is stocked in, from Product Search (Get Product Detail when a search result carries no SKUs).

Run on demand (console job, CLI) and on a schedule (every 6 hours, every connected shop); the
product webhooks (5, 15, 16, 50) refresh the products they name in between (catalog/refresh.py).
Empty and duplicate seller SKUs are reported, never guessed: a duplicate seller SKU has no
pointer (a level naming it is refused as not in the catalog map) until the seller fixes it; its
SKUs stay reachable by product_id + sku_id. A sellable SKU seen by the sync loses the block a
permanent refusal put on it (the catalog sync revives it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import BaseModel, Field

from tts_sync.catalog.models import PUSHABLE_STATUSES, CatalogSku
from tts_sync.catalog.ports import CatalogApi, CatalogStore
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.tiktok import Deadline, ShopAccess
from tts_sync.tiktok.models import Product


class CatalogSyncReport(BaseModel):
    shop_id: str
    products: int = 0
    skus: int = 0
    detail_calls: int = 0
    revived: list[str] = Field(default_factory=list)  # SKU ids unblocked
    empty_seller_skus: list[str] = Field(default_factory=list)  # SKU ids without a seller SKU
    duplicate_seller_skus: dict[str, list[str]] = Field(default_factory=dict)  # -> SKU ids
    not_sellable: dict[str, str] = Field(default_factory=dict)  # SKU id -> status


def sync_catalog(
    access: ShopAccess,
    api: CatalogApi,
    store: CatalogStore,
    clock: Callable[[], float],
    deadline: Deadline,
) -> CatalogSyncReport:
    shop_id = access.shop_id
    report = CatalogSyncReport(shop_id=shop_id)
    known = {sku.sku_id: sku for sku in store.all_skus(shop_id)}
    now = clock()
    entries: list[CatalogSku] = []
    for product in api.search_products(access, deadline=deadline):
        report.products += 1
        if not product.skus:
            product = api.get_product_detail(access, product.id, deadline=deadline)
            report.detail_calls += 1
        entries += catalog_entries(shop_id, product, known, now, report)
    by_seller: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        if entry.seller_sku:
            by_seller[entry.seller_sku].append(entry.sku_id)
        else:
            report.empty_seller_skus.append(entry.sku_id)
    report.duplicate_seller_skus = {s: ids for s, ids in by_seller.items() if len(ids) > 1}
    # Duplicates keep their entries (reachable by sku_id) without the seller SKU pointer.
    store.save_skus(
        e.model_copy(update={"seller_sku": ""})
        if e.seller_sku in report.duplicate_seller_skus
        else e
        for e in entries
    )
    for seller_sku in report.duplicate_seller_skus:
        store.forget_seller_sku(shop_id, seller_sku)
    report.skus = len(entries)
    logger.info(
        "catalog synced",
        shop_id=shop_id,
        products=report.products,
        skus=report.skus,
        empty_seller_skus=len(report.empty_seller_skus),
        duplicate_seller_skus=len(report.duplicate_seller_skus),
    )
    if report.empty_seller_skus or report.duplicate_seller_skus:
        problems = len(report.empty_seller_skus) + len(report.duplicate_seller_skus)
        metrics.add_metric(name="CatalogSellerSkuProblems", unit=MetricUnit.Count, value=problems)
    return report


class _SkuReport(Protocol):
    revived: list[str]
    not_sellable: dict[str, str]


def catalog_entries(
    shop_id: str,
    product: Product,
    known: Mapping[str, CatalogSku],
    now: float,
    report: _SkuReport,
) -> list[CatalogSku]:
    """The catalog entries of one product as TikTok shows it: a blocked SKU TikTok sells again
    is revived (its block cleared); one not sellable is reported."""
    entries = []
    for sku in product.skus:
        status = sku.status or product.status
        sellable = status.upper() in PUSHABLE_STATUSES
        previous = known.get(sku.id)
        blocked = previous.blocked_reason if previous else ""
        if blocked and sellable:
            report.revived.append(sku.id)
            blocked = ""
        if not sellable:
            report.not_sellable[sku.id] = status
        entries.append(
            CatalogSku(
                shop_id=shop_id,
                sku_id=sku.id,
                product_id=product.id,
                seller_sku=sku.seller_sku.strip(),
                status=status,
                warehouse_ids=[i.warehouse_id for i in sku.inventory],
                quantities={i.warehouse_id: i.quantity for i in sku.inventory},
                blocked_reason=blocked,
                synced_at=now,
            )
        )
    return entries
