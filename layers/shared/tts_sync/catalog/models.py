"""The catalog map and the warehouse mapping of a shop: what the quantity export needs to turn a
back-office level (seller SKU, location) into a TikTok inventory update (product, SKU, every
warehouse the SKU is stocked in)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# TikTok's SKU/product statuses that accept stock (LIVE is the documented one; ACTIVATE is the
# product status the 202309 product APIs use for an on-sale product).
PUSHABLE_STATUSES = frozenset({"LIVE", "ACTIVATE", "ACTIVE"})


class CatalogSku(BaseModel):
    """One SKU of the catalog map: seller SKU -> TikTok product id, SKU id, status and the
    warehouses it is stocked in (with the quantities TikTok reported at the last catalog sync).
    `blocked_reason` is set when TikTok refused it for good (not live, product deleted): the
    export skips it until a catalog sync sees it sellable again."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    shop_id: str
    sku_id: str
    product_id: str
    seller_sku: str = ""
    status: str = "LIVE"
    warehouse_ids: list[str] = Field(default_factory=list)
    quantities: dict[str, int] = Field(default_factory=dict)  # warehouse -> seen at the sync
    blocked_reason: str = ""
    synced_at: float = 0.0

    @property
    def pushable(self) -> bool:
        return self.status.upper() in PUSHABLE_STATUSES and not self.blocked_reason


class WarehouseMapping(BaseModel):
    """Back-office location -> TikTok sales warehouse, validated against the warehouses API."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    shop_id: str
    location_id: str
    warehouse_id: str
    warehouse_name: str = ""
    effect_status: str = "ENABLED"
    mapped_at: float = 0.0
