"""Warehouse mapping: a back-office location_id -> a TikTok warehouse id, validated against the
warehouses API. Only sales warehouses take stock: a return warehouse is refused (TikTok sells
nothing from it, and its id differs from the sales warehouse at the same address); a DISABLED
or RESTRICTED (holiday, order-limit mode) warehouse is mapped but reported."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from tts_sync.catalog.models import WarehouseMapping
from tts_sync.catalog.ports import CatalogApi, CatalogStore
from tts_sync.errors import TtsSyncError
from tts_sync.tiktok import Deadline, ShopAccess

SALES_WAREHOUSE = "SALES_WAREHOUSE"
RETURN_WAREHOUSE = "RETURN_WAREHOUSE"
ENABLED = "ENABLED"


class WarehouseMappingRefusedError(TtsSyncError):
    """The mapping was not stored; the message says why."""


class MappingView(BaseModel):
    location_id: str
    warehouse_id: str
    warehouse_name: str = ""
    effect_status: str = ""  # as the warehouses API shows it now ("MISSING": gone)
    warning: str = ""


def _warning(effect_status: str) -> str:
    if effect_status == ENABLED:
        return ""
    if effect_status == "MISSING":
        return "the warehouse is no longer in TikTok's warehouse list"
    return (
        f"warehouse is {effect_status}: TikTok may not sell from it "
        "(RESTRICTED = holiday or order-limit mode)"
    )


def map_location(
    access: ShopAccess,
    location_id: str,
    warehouse_id: str,
    api: CatalogApi,
    store: CatalogStore,
    clock: Callable[[], float],
    deadline: Deadline,
) -> MappingView:
    warehouses = {w.id: w for w in api.get_warehouses(access, deadline=deadline)}
    warehouse = warehouses.get(warehouse_id)
    if warehouse is None:
        sales = ", ".join(sorted(w.id for w in warehouses.values() if w.type == SALES_WAREHOUSE))
        raise WarehouseMappingRefusedError(
            f"warehouse {warehouse_id} is not a warehouse of shop {access.shop_id} "
            f"(sales warehouses: {sales or 'none'})"
        )
    if warehouse.type == RETURN_WAREHOUSE:
        raise WarehouseMappingRefusedError(
            f"warehouse {warehouse_id} ({warehouse.name}) is a return warehouse: TikTok sells "
            "nothing from it; map the location to a sales warehouse"
        )
    if warehouse.type != SALES_WAREHOUSE:
        raise WarehouseMappingRefusedError(
            f"warehouse {warehouse_id} has type {warehouse.type or 'none'}, not SALES_WAREHOUSE"
        )
    mapping = WarehouseMapping(
        shop_id=access.shop_id,
        location_id=location_id,
        warehouse_id=warehouse_id,
        warehouse_name=warehouse.name,
        effect_status=warehouse.effect_status,
        mapped_at=clock(),
    )
    store.save_mapping(mapping)
    return MappingView(
        location_id=location_id,
        warehouse_id=warehouse_id,
        warehouse_name=warehouse.name,
        effect_status=warehouse.effect_status,
        warning=_warning(warehouse.effect_status),
    )


def show_mappings(
    access: ShopAccess, api: CatalogApi, store: CatalogStore, deadline: Deadline
) -> list[MappingView]:
    """Every mapping of the shop, with the warehouse's status as TikTok shows it now."""
    warehouses = {w.id: w for w in api.get_warehouses(access, deadline=deadline)}
    views = []
    for mapping in sorted(store.mappings(access.shop_id).values(), key=lambda m: m.location_id):
        warehouse = warehouses.get(mapping.warehouse_id)
        status = warehouse.effect_status if warehouse else "MISSING"
        views.append(
            MappingView(
                location_id=mapping.location_id,
                warehouse_id=mapping.warehouse_id,
                warehouse_name=warehouse.name if warehouse else mapping.warehouse_name,
                effect_status=status,
                warning=_warning(status),
            )
        )
    return views
