"""Deterministic demo world (same ids and tokens every run): one US shop with two products,
three warehouses (one of them a RETURN_WAREHOUSE), delivery options with providers, and orders
in every interesting state (ON_HOLD with the address hidden, a split shipment, shipped,
cancelled)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tts_local.sandbox.state import Grant, Order, Product, Shop, Warehouse

if TYPE_CHECKING:
    from tts_local.sandbox.sandbox import Sandbox

DEMO_SHOP_ID = "7494049642642441621"
DEMO_CIPHER = "ROW_demo_cipher_7494049642642441621"
BASE_TIME = 1_767_225_600  # 2026-01-01T00:00:00Z: fixed so the demo is the same every run


@dataclass(frozen=True)
class DemoData:
    shop: Shop
    grant: Grant
    warehouses: list[Warehouse]
    products: list[Product]
    orders: dict[str, Order]  # by a readable label
    provider_id: str
    delivery_option_id: str


def seed_demo_data(sandbox: Sandbox, *, qps: float | None = None) -> DemoData:
    shop = sandbox.seed_shop(
        DEMO_SHOP_ID, name="Maple & Co Demo", region="US", cipher=DEMO_CIPHER, qps=qps
    )
    sandbox.seed_provider("6617675021119438849", "USPS")
    sandbox.seed_provider("6617675021119438850", "UPS")
    sandbox.seed_delivery_option(
        "7129736992520250113", "Standard shipping", ["6617675021119438849", "6617675021119438850"]
    )
    sandbox.seed_delivery_option(
        "7129736992520250114", "Express", ["6617675021119438850"], type="EXPRESS"
    )
    east = sandbox.seed_warehouse(
        shop.id,
        "7000000000000001001",
        name="East DC",
        is_default=True,
        delivery_option_ids=["7129736992520250113", "7129736992520250114"],
    )
    west = sandbox.seed_warehouse(
        shop.id,
        "7000000000000001002",
        name="West DC",
        delivery_option_ids=["7129736992520250113"],
    )
    returns = sandbox.seed_warehouse(
        shop.id, "7000000000000001003", name="Returns", type="RETURN_WAREHOUSE"
    )
    mug = sandbox.seed_product(
        shop.id,
        "1729582718312380001",
        title="Enamel mug",
        skus=[
            {
                "id": "1729582718312381001",
                "seller_sku": "MUG-RED",
                "price": "14.00",
                "stock": {east.id: 40, west.id: 12},
            },
            {
                "id": "1729582718312381002",
                "seller_sku": "MUG-BLUE",
                "price": "14.00",
                "stock": {east.id: 25},
            },
        ],
    )
    tote = sandbox.seed_product(
        shop.id,
        "1729582718312380002",
        title="Canvas tote",
        skus=[
            {
                "id": "1729582718312382001",
                "seller_sku": "TOTE-NAT",
                "price": "22.50",
                "stock": {west.id: 8},
            },
        ],
    )
    red = {
        "sku_id": "1729582718312381001",
        "product_id": mug.id,
        "seller_sku": "MUG-RED",
        "price": "14.00",
    }
    blue = {
        "sku_id": "1729582718312381002",
        "product_id": mug.id,
        "seller_sku": "MUG-BLUE",
        "price": "14.00",
    }
    bag = {
        "sku_id": "1729582718312382001",
        "product_id": tote.id,
        "seller_sku": "TOTE-NAT",
        "price": "22.50",
    }
    specs = [
        ("unpaid", "UNPAID", [red], None),
        ("on_hold", "ON_HOLD", [blue], None),
        ("awaiting_shipment", "AWAITING_SHIPMENT", [red, bag], None),
        ("split", "AWAITING_SHIPMENT", [red, blue, bag], [[0, 1], [2]]),
        ("awaiting_collection", "AWAITING_COLLECTION", [bag], None),
        ("in_transit", "IN_TRANSIT", [blue], None),
        ("delivered", "DELIVERED", [red], None),
        ("completed", "COMPLETED", [bag], None),
        ("cancelled", "CANCELLED", [blue], None),
    ]
    orders = {}
    for index, (label, status, items, split) in enumerate(specs):
        orders[label] = sandbox.seed_order(
            shop.id,
            f"57689012345678{index:05d}",
            status=status,
            items=items,
            package_split=split,
            create_time=BASE_TIME + index * 600,
            update_time=BASE_TIME + index * 600 + 60,
            warehouse_id=east.id,
        )
    # Fixed tokens so a developer can paste them into curl; the expiry still counts from now.
    grant = sandbox.issue_token(
        [shop.id], fixed_tokens=("TTP_demo_access_token", "TTR_demo_refresh_token")
    )
    return DemoData(
        shop=shop,
        grant=grant,
        warehouses=[east, west, returns],
        products=[mug, tote],
        orders=orders,
        provider_id="6617675021119438849",
        delivery_option_id="7129736992520250113",
    )
