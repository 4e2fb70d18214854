"""The catalog map and warehouse mapping through the function's console jobs, against the
sandbox's Product Search / Get Product Detail / warehouses endpoints; and the full resync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.stock.conftest import (
    EAST,
    MUG_BLUE,
    MUG_PRODUCT,
    MUG_RED,
    RETURNS,
    TOTE,
    WEST,
    StockExport,
    level,
)
from tts_sync.tiktok import TikTokApiConfig

CONSOLE = Path(__file__).resolve().parents[3] / "events" / "console"


def job(stock: StockExport, name: str, **fields: Any) -> dict[str, Any]:
    event = {**json.loads((CONSOLE / f"quantity_export_{name}.json").read_text()), **fields}
    return stock.invoke(event)


def test_catalog_sync_maps_seller_skus_and_reports_empty_and_duplicates(
    stock: StockExport,
) -> None:
    stock.sandbox.seed_product(
        stock.shop_id,
        "1729582718312380009",
        title="Mystery box",
        skus=[
            {"id": "1729582718312389001", "seller_sku": "", "stock": {EAST: 1}},
            {"id": "1729582718312389002", "seller_sku": "MUG-BLUE", "stock": {EAST: 2}},
        ],
    )
    report = job(stock, "catalog_sync")
    assert report["products"] == 3 and report["skus"] == 5
    assert report["empty_seller_skus"] == ["1729582718312389001"]
    assert report["duplicate_seller_skus"] == {"MUG-BLUE": [MUG_BLUE, "1729582718312389002"]}
    searches = stock.sandbox.requests("/product/202502/products/search")
    assert searches, "Product Search at the version TikTok publishes (202502)"
    by_seller = stock.catalog.skus_by_seller_sku(stock.shop_id, ["MUG-RED", "MUG-BLUE"])
    assert set(by_seller) == {"MUG-RED"}  # a duplicate is reported, never guessed
    red = by_seller["MUG-RED"]
    assert (red.product_id, red.warehouse_ids, red.quantities) == (
        MUG_PRODUCT,
        [EAST, WEST],
        {EAST: 40, WEST: 12},
    )
    stock.consume(level("MUG-BLUE", 3))  # ambiguous: refused, not pushed to either SKU
    assert "not in the catalog map" in stock.ledger.refusals(stock.shop_id)[-1].reason


def test_the_client_takes_a_version_per_endpoint(stock: StockExport) -> None:
    from tests.integration.orders.conftest import api_client

    client = api_client(stock.sandbox)
    assert isinstance(client.config, TikTokApiConfig)
    older = api_client(
        stock.sandbox, product_search_version="202309", product_detail_version="202502"
    )
    access = stock.dependencies.export.shops.access(stock.shop_id)
    assert access is not None
    assert [p.id for p in older.search_products(access)] == [MUG_PRODUCT, "1729582718312380002"]
    assert older.get_product_detail(access, MUG_PRODUCT).skus[0].id == MUG_RED
    assert stock.sandbox.requests("/product/202309/products/search")
    assert stock.sandbox.requests(f"/product/202502/products/{MUG_PRODUCT}")
    client.close()
    older.close()


def test_catalog_sync_revives_a_blocked_sku_once_tiktok_sells_it_again(stock: StockExport) -> None:
    stock.catalog.block_sku(stock.shop_id, TOTE, "TikTok code 12052260: product is DELETED")
    stock.sandbox.state.products["1729582718312380002"].status = "SELLER_DEACTIVATED"
    report = job(stock, "catalog_sync")
    assert report["not_sellable"] == {TOTE: "SELLER_DEACTIVATED"} and report["revived"] == []
    stock.sandbox.state.products["1729582718312380002"].status = "ACTIVATE"
    assert job(stock, "catalog_sync")["revived"] == [TOTE]
    assert stock.catalog.skus_by_id(stock.shop_id, [TOTE])[TOTE].pushable


def test_mapping_a_location_is_validated_against_the_warehouses_api(stock: StockExport) -> None:
    stock.sandbox.seed_warehouse(stock.shop_id, "7000000000000001004", effect_status="RESTRICTED")
    mapped = job(stock, "map_location", location_id="WH-NORTH", warehouse_id=EAST)
    assert mapped["mapped"] is True and mapped["mapping"]["warning"] == ""
    returns = job(stock, "map_location", location_id="WH-RET", warehouse_id=RETURNS)
    assert returns["mapped"] is False and "return warehouse" in returns["reason"]
    unknown = job(stock, "map_location", location_id="WH-X", warehouse_id="123")
    assert unknown["mapped"] is False and "is not a warehouse of shop" in unknown["reason"]
    restricted = job(
        stock, "map_location", location_id="WH-HOLIDAY", warehouse_id="7000000000000001004"
    )
    assert restricted["mapped"] is True and "RESTRICTED" in restricted["mapping"]["warning"]
    stock.sandbox.state.warehouses[WEST].effect_status = "DISABLED"
    shown = {m["location_id"]: m for m in job(stock, "mappings")["mappings"]}
    assert set(shown) == {"WH-EAST", "WH-WEST", "WH-NORTH", "WH-HOLIDAY"}
    assert "DISABLED" in shown["WH-WEST"]["warning"]
    assert job(stock, "unmap_location", location_id="WH-HOLIDAY")["removed"] is True
    assert "WH-HOLIDAY" not in stock.catalog.mappings(stock.shop_id)


def test_full_resync_pushes_every_mapped_sku_from_the_last_levels(stock: StockExport) -> None:
    stock.consume(
        level("MUG-RED", 5), level("MUG-BLUE", 6), level("TOTE-NAT", 7, location_id="WH-WEST")
    )
    # Someone edits stock in TikTok's seller center behind our back.
    for product in stock.sandbox.state.products.values():
        for sku in product.skus.values():
            sku.stock = dict.fromkeys(sku.stock, 99)
    before = len(stock.inventory_calls())
    result = job(stock, "resync")
    assert result["inventory_calls"] == 2 and result["levels"]["exported"] == 3
    assert len(stock.inventory_calls()) == before + 2
    assert stock.tiktok_stock(MUG_RED) == {EAST: 5, WEST: 12}  # WEST: TikTok's value at sync
    assert stock.tiktok_stock(MUG_BLUE) == {EAST: 6} and stock.tiktok_stock(TOTE) == {WEST: 7}
    shown = job(stock, "stock", sku_id=MUG_RED)["stock"]
    assert [(e["warehouse_id"], e["confirmed_value"]) for e in shown] == [(EAST, 5)]


def test_buffer_rules_are_set_and_shown(stock: StockExport) -> None:
    shown = job(stock, "buffer_rules")
    assert shown["rules"] == {"percent_listed": 90, "fixed_reserve": 1, "max_listed": 500}
    stock.consume(level("MUG-RED", 11))  # (11 - 1) * 90% = 9
    assert stock.tiktok_stock(MUG_RED)[EAST] == 9


def test_the_mapping_cli_runs_the_console_jobs(stock: StockExport, capsys: Any) -> None:
    from tts_local.cli import main

    shop = ["--shop", stock.shop_id]
    assert main(["mapping", "set", *shop, "--location", "WH-N", "--warehouse", EAST]) == 0
    assert json.loads(capsys.readouterr().out)["mapping"]["warehouse_id"] == EAST
    assert main(["mapping", "set", *shop, "--location", "WH-R", "--warehouse", RETURNS]) == 1
    assert "return warehouse" in json.loads(capsys.readouterr().out)["reason"]
    assert main(["mapping", "show", *shop]) == 0
    shown = json.loads(capsys.readouterr().out)["mappings"]
    assert {m["location_id"] for m in shown} == {"WH-EAST", "WH-WEST", "WH-N"}
    assert main(["mapping", "delete", *shop, "--location", "WH-N", "--print-event"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"job": "unmap_location", "shop_id": stock.shop_id, "location_id": "WH-N"}
    assert main(["mapping", "delete", *shop, "--location", "WH-N"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] is True
    assert main(["mapping", "catalog-sync", *shop]) == 0
    assert json.loads(capsys.readouterr().out)["skus"] == 3
