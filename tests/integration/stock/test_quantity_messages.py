"""The QuantityExportQueue contract through the function's entry logic: the issue's exact shape
is exported, lists of levels and TikTok ids are accepted, invalid messages are refused with a
precise reason, recorded and acknowledged (never retried forever), transient failures come back
through the partial batch response."""

from __future__ import annotations

from tests.integration.stock.conftest import (
    EAST,
    MUG_PRODUCT,
    MUG_RED,
    WEST,
    StockExport,
    failed_ids,
    level,
    sqs_batch,
    sqs_record,
)
from tts_sync.stock.batch import handle_quantity_export_event  # noqa: F401 - the entry logic


def test_the_issue_shape_is_exported_to_the_mapped_warehouse(stock: StockExport) -> None:
    response = stock.consume(
        {
            "shop_id": stock.shop_id,
            "seller_sku": "MUG-RED",
            "location_id": "WH-EAST",
            "available": 42,
            "as_of": "2026-12-01T10:00:00Z",
        }
    )
    assert response == {"batchItemFailures": []}
    # West had no new level: it carries the quantity the catalog sync saw (12).
    assert stock.tiktok_stock(MUG_RED) == {EAST: 42, WEST: 12}
    entry = stock.ledger.get(stock.shop_id, [(MUG_RED, EAST)])[(MUG_RED, EAST)]
    assert (entry.confirmed_value, entry.level_available, entry.location_id) == (42, 42, "WH-EAST")


def test_a_list_of_levels_and_tiktok_ids_in_one_message(stock: StockExport) -> None:
    body = {
        "levels": [
            level("MUG-RED", 5, location_id="WH-WEST"),
            level(
                available=7,
                product_id=MUG_PRODUCT,
                sku_id=MUG_RED,
                warehouse_id=EAST,
            ),
            level("TOTE-NAT", 3, location_id="WH-WEST"),
        ]
    }
    assert stock.consume(body) == {"batchItemFailures": []}
    assert stock.tiktok_stock(MUG_RED) == {EAST: 7, WEST: 5}
    assert stock.tiktok_stock("1729582718312382001") == {WEST: 3}
    assert len(stock.inventory_calls()) == 2  # one per product


def test_invalid_messages_are_refused_with_the_reason_recorded_and_not_retried(
    stock: StockExport,
) -> None:
    records = [
        sqs_record("{not json", "bad-json"),
        sqs_record(level(available=-1), "negative"),
        sqs_record(level(shop_id="999"), "unknown-shop"),
        sqs_record(level("NO-SUCH-SKU"), "unknown-sku"),
        sqs_record(level(location_id="WH-MOON"), "unmapped"),
        sqs_record(level(as_of="2026-12-01T10:00:00"), "naive-time"),
        sqs_record(level(available=9), "good"),
    ]
    response = stock.invoke({"Records": records})
    assert failed_ids(response) == []  # acknowledged: a retry cannot fix them
    reasons = {r.message_id: r.reason for r in stock.ledger.refusals(stock.shop_id)}
    reasons.update({r.message_id: r.reason for r in stock.ledger.refusals("")})
    reasons.update({r.message_id: r.reason for r in stock.ledger.refusals("999")})
    assert reasons["bad-json"].startswith("body is not JSON")
    assert "available: Input should be greater than or equal to 0" in reasons["negative"]
    assert reasons["unknown-shop"].startswith("unknown shop 999")
    assert reasons["unknown-sku"] == "seller_sku 'NO-SUCH-SKU' is not in the catalog map"
    assert reasons["unmapped"] == "location_id 'WH-MOON' is not mapped"
    assert "as_of: Input should have timezone info" in reasons["naive-time"]
    assert "good" not in reasons
    assert stock.tiktok_stock(MUG_RED)[EAST] == 9
    bad = next(r for r in stock.ledger.refusals("") if r.message_id == "bad-json")
    assert bad.body_excerpt == "{not json"


def test_a_refusal_that_cannot_be_recorded_comes_back(stock: StockExport) -> None:
    from tts_sync.errors import StorageUnavailableError

    class FailingRefusals:
        def __getattr__(self, name: str) -> object:
            return getattr(stock.ledger, name)

        def record_refusal(self, refusal: object) -> None:
            raise StorageUnavailableError("ProvisionedThroughputExceededException")

    stock.use(ledger=FailingRefusals())
    response = stock.invoke({"Records": [sqs_record("[]", "m1")]})
    assert failed_ids(response) == ["m1"]  # kept: the DLQ gets it after the receive limit


def test_throttling_and_5xx_return_the_messages_and_a_later_delivery_succeeds(
    stock: StockExport,
) -> None:
    path = f"/product/202309/products/{MUG_PRODUCT}/inventory/update"
    stock.sandbox.inject_fault(path, "429", count=10)
    batch = sqs_batch(level(available=4), level("TOTE-NAT", 2, location_id="WH-WEST"))
    response = stock.invoke(batch)
    mug_message = batch["Records"][0]["messageId"]
    assert failed_ids(response) == [mug_message]  # only the throttled product's message
    assert stock.tiktok_stock("1729582718312382001") == {WEST: 2}
    stock.sandbox.clear_faults()
    stock.sandbox.inject_fault(path, "5xx", count=1)
    # SQS redelivers the failed message: it succeeds once TikTok answers.
    again = stock.invoke({"Records": [batch["Records"][0]]})
    assert failed_ids(again) == []
    assert stock.tiktok_stock(MUG_RED)[EAST] == 4
