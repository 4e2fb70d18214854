"""Product webhooks keep the catalog map current between full syncs: PRODUCT_STATUS_CHANGE (5),
PRODUCT_INFORMATION_CHANGE (15), PRODUCT_CREATION (16) and SKU_STATUS_CHANGE (50) name a
product; the Events stream consumer collects the products its batch names (coalesced: one
product named by ten webhooks is one call) and this module refreshes each from Get Product
Detail, one call per product. Not a shop resync.

- A SKU TikTok sells again loses the block a permanent refusal put on it (revived).
- A product TikTok says is gone (deleted, not in the shop) has its known SKUs marked DELETED:
  the export refuses them as not live instead of calling TikTok.
- Seller SKUs: empty ones are reported; one already pointing at another SKU, or marked
  duplicated by the full sync, is a duplicate (reported, its pointer becomes the duplicate
  marker), never guessed.
- Transient failures (429, 5xx, timeouts) are returned per product, so the consumer retries
  only the records that named it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from tts_sync.catalog.models import CatalogSku
from tts_sync.catalog.ports import CatalogApi, CatalogStore
from tts_sync.catalog.sync import catalog_entries
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.tiktok import Deadline, ShopAccess, TikTokApiError, TikTokPermanentError
from tts_sync.tiktok.models import Product

# Get Product Detail of a product that is deleted or not in this shop (tiktok-shop-api.md
# section 4), or HTTP 404.
PRODUCT_GONE_CODES = frozenset({12052048, 12052260, 12052031, 12052032})
GONE_STATUS = "DELETED"


@dataclass(frozen=True)
class ProductRefreshContext:
    store: CatalogStore
    api: Callable[[], CatalogApi]  # a factory: the client reads the app secret on first use
    clock: Callable[[], float]


class ProductRefreshReport(BaseModel):
    shop_id: str
    products: list[str] = Field(default_factory=list)  # refreshed
    gone: list[str] = Field(default_factory=list)  # deleted or not in the shop
    skus: int = 0
    revived: list[str] = Field(default_factory=list)
    not_sellable: dict[str, str] = Field(default_factory=dict)
    empty_seller_skus: list[str] = Field(default_factory=list)
    duplicate_seller_skus: dict[str, list[str]] = Field(default_factory=dict)
    retry: dict[str, str] = Field(default_factory=dict)  # product id -> reason


def refresh_products(
    access: ShopAccess,
    product_ids: Iterable[str],
    context: ProductRefreshContext,
    deadline: Deadline,
) -> ProductRefreshReport:
    shop_id = access.shop_id
    report = ProductRefreshReport(shop_id=shop_id)
    api = context.api()
    products: list[Product] = []
    for product_id in dict.fromkeys(product_ids):
        try:
            products.append(api.get_product_detail(access, product_id, deadline=deadline))
        except TikTokPermanentError as exc:
            if exc.code in PRODUCT_GONE_CODES or exc.http_status == 404:
                report.gone.append(product_id)
            else:
                report.retry[product_id] = _reason(exc)
        except TikTokApiError as exc:  # retryable: throttled, 5xx, timeout, network
            report.retry[product_id] = _reason(exc)
    now = context.clock()
    store = context.store
    entries = _current_entries(shop_id, products, store, now, report)
    entries += _gone_entries(shop_id, report.gone, store, now)
    store.save_skus(entries)
    for seller_sku in report.duplicate_seller_skus:
        store.forget_seller_sku(shop_id, seller_sku)
    report.products = [p.id for p in products]
    report.skus = len(entries)
    logger.info(
        "products refreshed",
        shop_id=shop_id,
        products=len(report.products),
        gone=len(report.gone),
        skus=report.skus,
        revived=len(report.revived),
        retry=len(report.retry),
    )
    metrics.add_metric(
        name="CatalogProductsRefreshed",
        unit=MetricUnit.Count,
        value=len(products) + len(report.gone),
    )
    if report.revived:
        metrics.add_metric(
            name="CatalogSkusRevived", unit=MetricUnit.Count, value=len(report.revived)
        )
    if report.empty_seller_skus or report.duplicate_seller_skus:
        problems = len(report.empty_seller_skus) + len(report.duplicate_seller_skus)
        metrics.add_metric(name="CatalogSellerSkuProblems", unit=MetricUnit.Count, value=problems)
    return report


def _current_entries(
    shop_id: str,
    products: list[Product],
    store: CatalogStore,
    now: float,
    report: ProductRefreshReport,
) -> list[CatalogSku]:
    if not products:
        return []
    known = store.skus_by_id(shop_id, [sku.id for p in products for sku in p.skus])
    entries = [
        entry
        for product in products
        for entry in catalog_entries(shop_id, product, known, now, report)
    ]
    by_seller: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        if entry.seller_sku:
            by_seller[entry.seller_sku].append(entry.sku_id)
        else:
            report.empty_seller_skus.append(entry.sku_id)
    pointers = store.seller_sku_pointers(shop_id, by_seller)
    ours = {entry.sku_id for entry in entries}
    for seller_sku, sku_ids in by_seller.items():
        pointed = pointers.get(seller_sku)
        if pointed is not None and pointed not in ours:
            # "" = marked duplicated by the full sync; another id = another SKU carries it.
            sku_ids = ([pointed] if pointed else []) + sku_ids
        if len(sku_ids) > 1 or pointed == "":
            report.duplicate_seller_skus[seller_sku] = sku_ids
    duplicated = report.duplicate_seller_skus
    return [
        e.model_copy(update={"seller_sku": ""}) if e.seller_sku in duplicated else e
        for e in entries
    ]


def _gone_entries(
    shop_id: str, product_ids: list[str], store: CatalogStore, now: float
) -> list[CatalogSku]:
    gone = []
    for product_id in product_ids:
        for sku in store.skus_of_product(shop_id, product_id):
            if sku.status != GONE_STATUS:
                # No seller SKU on it: saving must not rewrite a pointer (or a duplicate mark).
                update = {"status": GONE_STATUS, "seller_sku": "", "synced_at": now}
                gone.append(sku.model_copy(update=update))
    return gone


def _reason(exc: TikTokApiError) -> str:
    return f"{type(exc).__name__} code={exc.code} http_status={exc.http_status}"
