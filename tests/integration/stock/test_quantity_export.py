"""The export's rules against the sandbox and the moto server: coalescing, ordering across
batches, reservations and buffer rules, suppression, one call per product with every
warehouse, data.errors per SKU and warehouse, permanent refusals, crashes and races."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.stock.conftest import (
    EAST,
    MUG_BLUE,
    MUG_PRODUCT,
    MUG_RED,
    TOTE,
    TOTE_PRODUCT,
    WEST,
    StockExport,
    failed_ids,
    level,
    sqs_batch,
    sqs_record,
)
from tts_sync.errors import StorageUnavailableError
from tts_sync.orders.reservations import Reservation, ReservationState
from tts_sync.stock.dynamo_store import DynamoStockLedger
from tts_sync.stock.models import BufferRules, SkuWarehouseStock

T0 = 1_796_119_200.0  # 2026-12-01T10:00:00Z


def reservation(sku_id: str, order_id: str, units: int, ordered_at: float) -> Reservation:
    return Reservation(
        shop_id="7494049642642441621",
        sku_id=sku_id,
        order_id=order_id,
        state=ReservationState.HELD,
        units=units,
        ordered_units=units,
        ordered_at=int(ordered_at),
        order_status="AWAITING_SHIPMENT",
        order_update_time=int(ordered_at),
    )


def hold(stock: StockExport, *reservations: Reservation) -> None:
    """Reservations as order sync writes them (ReservationsTable items)."""
    from tts_sync.orders.dynamo_store import _reservation_item

    for r in reservations:
        stock.dynamodb.put_item(
            TableName=stock.tables["ReservationsTable"], Item=_reservation_item(r, int(T0))
        )


def test_many_levels_of_one_sku_in_a_batch_export_the_newest_once(stock: StockExport) -> None:
    batch = sqs_batch(
        level(available=5, as_of=T0 + 1),
        level(available=9, as_of=T0 + 3),  # newest
        level(available=7, as_of=T0 + 2),
        level(available=9, as_of=T0 + 3),  # the same level twice (a duplicate send)
    )
    assert failed_ids(stock.invoke(batch)) == []
    assert stock.tiktok_stock(MUG_RED)[EAST] == 9
    [call] = stock.inventory_calls()
    assert call["path"] == f"/product/202309/products/{MUG_PRODUCT}/inventory/update"


def test_an_older_level_in_a_later_batch_never_overwrites_a_newer_one(stock: StockExport) -> None:
    stock.consume(level(available=3, as_of=T0 + 60))
    stock.consume(level(available=30, as_of=T0))  # counted earlier, delivered later
    assert stock.tiktok_stock(MUG_RED)[EAST] == 3
    assert len(stock.inventory_calls()) == 1
    entry = stock.ledger.get(stock.shop_id, [(MUG_RED, EAST)])[(MUG_RED, EAST)]
    assert (entry.level_available, entry.level_as_of) == (3, T0 + 60)


@pytest.mark.parametrize("transactions", [True, False])
def test_a_stale_level_among_fresh_ones_is_superseded_alone(
    stock: StockExport, transactions: bool
) -> None:
    stock.use(
        ledger=DynamoStockLedger(
            stock.dynamodb, stock.tables["StockTable"], transactions=transactions
        )
    )
    stock.consume(level("MUG-BLUE", 3, as_of=T0 + 60))
    # One transaction records the fresh levels; the stale one's condition fails on its own.
    stock.consume(
        level("MUG-RED", 8, as_of=T0),
        level("MUG-BLUE", 30, as_of=T0),  # older than the 3 already recorded
        level("TOTE-NAT", 4, as_of=T0, location_id="WH-WEST"),
    )
    assert stock.tiktok_stock(MUG_RED)[EAST] == 8 and stock.tiktok_stock(TOTE) == {WEST: 4}
    assert stock.tiktok_stock(MUG_BLUE) == {EAST: 3}


def test_units_ordered_after_as_of_are_subtracted_and_earlier_ones_are_not(
    stock: StockExport,
) -> None:
    hold(
        stock,
        reservation(MUG_RED, "o-before", 4, T0 - 1),  # the back office counted it
        reservation(MUG_RED, "o-same-second", 1, T0),  # may not have: subtracted
        reservation(MUG_RED, "o-after", 2, T0 + 30),  # could not have: subtracted
    )
    released = reservation(MUG_RED, "o-cancelled", 5, T0 + 40)
    hold(stock, released.model_copy(update={"state": ReservationState.RELEASED, "units": 0}))
    stock.consume(level(available=10, as_of=T0))
    assert stock.tiktok_stock(MUG_RED)[EAST] == 7
    entry = stock.ledger.get(stock.shop_id, [(MUG_RED, EAST)])[(MUG_RED, EAST)]
    assert (entry.confirmed_value, entry.reserved_units, entry.level_available) == (7, 3, 10)


def test_buffer_rules_then_the_clamp(stock: StockExport) -> None:
    stock.ledger.save_buffer_rules(
        stock.shop_id, BufferRules(percent_listed=50, fixed_reserve=2, max_listed=20)
    )
    hold(stock, reservation(MUG_RED, "o1", 1, T0 + 5))
    stock.consume(
        level(available=13, as_of=T0),  # (13 - 1 - 2) * 50% = 5
        level("MUG-RED", 1_000, as_of=T0, location_id="WH-WEST"),  # capped at 20
        level("TOTE-NAT", 2, as_of=T0, location_id="WH-WEST"),  # (2 - 2) -> 0
    )
    assert stock.tiktok_stock(MUG_RED) == {EAST: 5, WEST: 20}
    assert stock.tiktok_stock(TOTE) == {WEST: 0}
    stock.ledger.save_buffer_rules(stock.shop_id, BufferRules())
    stock.consume(level("TOTE-NAT", 250_000, as_of=T0 + 1, location_id="WH-WEST"))
    assert stock.tiktok_stock(TOTE) == {WEST: 99_999}


def test_a_value_tiktok_already_confirmed_is_not_sent_again(stock: StockExport) -> None:
    stock.consume(level(available=6, as_of=T0))
    stock.consume(level(available=6, as_of=T0 + 10))  # newer count, same number
    stock.consume(level(available=6, as_of=T0 + 10))  # a redelivery
    assert len(stock.inventory_calls()) == 1
    entry = stock.ledger.get(stock.shop_id, [(MUG_RED, EAST)])[(MUG_RED, EAST)]
    assert entry.level_as_of == T0 + 10  # the newer count is still the one recorded


def test_one_call_per_product_lists_every_warehouse_of_each_sku_touched(
    stock: StockExport,
) -> None:
    stock.consume(
        level("MUG-RED", 11, as_of=T0),
        level("MUG-BLUE", 22, as_of=T0),
        level("TOTE-NAT", 33, as_of=T0, location_id="WH-WEST"),
    )
    calls = {c["path"]: c for c in stock.inventory_calls()}
    assert len(calls) == 2
    import json

    mug = json.loads(calls[f"/product/202309/products/{MUG_PRODUCT}/inventory/update"]["body"])
    by_sku = {
        s["id"]: {i["warehouse_id"]: i["quantity"] for i in s["inventory"]} for s in mug["skus"]
    }
    # MUG-RED had a new level for EAST only: WEST carries its last known quantity (12).
    assert by_sku == {MUG_RED: {EAST: 11, WEST: 12}, MUG_BLUE: {EAST: 22}}
    assert f"/product/202309/products/{TOTE_PRODUCT}/inventory/update" in calls
    # Later, WEST of MUG-RED changes: EAST carries the value TikTok confirmed (11).
    stock.consume(level("MUG-RED", 4, as_of=T0 + 1, location_id="WH-WEST"))
    assert stock.tiktok_stock(MUG_RED) == {EAST: 11, WEST: 4}


def test_data_errors_fail_only_the_skus_and_warehouses_named(stock: StockExport) -> None:
    path = f"/product/202309/products/{MUG_PRODUCT}/inventory/update"
    stock.sandbox.inject_fault(path, "sku_errors", sku_ids=[MUG_BLUE])
    batch = sqs_batch(level("MUG-RED", 8, as_of=T0), level("MUG-BLUE", 9, as_of=T0))
    assert failed_ids(stock.invoke(batch)) == [batch["Records"][1]["messageId"]]
    assert stock.tiktok_stock(MUG_RED)[EAST] == 8 and stock.tiktok_stock(MUG_BLUE)[EAST] == 25
    blue = stock.ledger.get(stock.shop_id, [(MUG_BLUE, EAST)])[(MUG_BLUE, EAST)]
    assert (blue.sent_value, blue.confirmed_value) == (9, None) and "12052999" in blue.last_error


def test_a_warehouse_named_in_extra_errors_fails_only_its_message(stock: StockExport) -> None:
    stock.sandbox.options.accept_zero_stock = False  # TikTok's 1..99,999 reading
    batch = sqs_batch(
        level("MUG-RED", 0, as_of=T0, location_id="WH-WEST"), level("MUG-BLUE", 3, as_of=T0)
    )
    assert failed_ids(stock.invoke(batch)) == [batch["Records"][0]["messageId"]]
    assert stock.tiktok_stock(MUG_BLUE)[EAST] == 3


def test_a_deleted_product_is_refused_blocked_and_not_pushed_again(stock: StockExport) -> None:
    stock.sandbox.state.products[TOTE_PRODUCT].status = "DELETED"
    batch = sqs_batch(level("TOTE-NAT", 5, as_of=T0, location_id="WH-WEST"))
    assert failed_ids(stock.invoke(batch)) == []  # refused, not retried
    [refusal] = stock.ledger.refusals(stock.shop_id)
    assert refusal.code == 12052260 and refusal.sku_ref == "TOTE-NAT"
    assert "product is DELETED" in refusal.reason
    sku = stock.catalog.skus_by_id(stock.shop_id, [TOTE])[TOTE]
    assert not sku.pushable and "12052260" in sku.blocked_reason
    calls = len(stock.inventory_calls())
    stock.consume(level("TOTE-NAT", 6, as_of=T0 + 1, location_id="WH-WEST"))
    assert len(stock.inventory_calls()) == calls  # not pushed until a catalog sync revives it
    assert "does not accept stock" in stock.ledger.refusals(stock.shop_id)[-1].reason


class CrashingLedger:
    """The ledger, except that the first confirmation dies (a Lambda killed after TikTok
    applied the update and before the bookkeeping)."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger
        self.crashes = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def record_confirmations(self, confirmations: Any, **kwargs: Any) -> list[bool]:
        if self.crashes:
            self.crashes -= 1
            raise StorageUnavailableError("crash after TikTok applied the update")
        return list(self._ledger.record_confirmations(confirmations, **kwargs))


def test_a_crash_before_bookkeeping_resends_the_same_value_and_nothing_else(
    stock: StockExport,
) -> None:
    stock.use(ledger=CrashingLedger(stock.ledger))
    batch = sqs_batch(level("MUG-RED", 5, as_of=T0))
    assert failed_ids(stock.invoke(batch)) == [batch["Records"][0]["messageId"]]
    assert stock.tiktok_stock(MUG_RED)[EAST] == 5  # TikTok applied it
    assert failed_ids(stock.invoke(batch)) == []  # SQS redelivers the same message
    first, second = (c["body"] for c in stock.inventory_calls())
    assert first == second  # the same value again: harmless
    stock.invoke(batch)  # once recorded, a further redelivery sends nothing
    assert len(stock.inventory_calls()) == 2


class RacingLedger:
    """A concurrent batch records a newer level while our call is in flight."""

    def __init__(self, ledger: Any, newer: SkuWarehouseStock) -> None:
        self._ledger = ledger
        self._newer: SkuWarehouseStock | None = newer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def record_confirmations(self, confirmations: Any, **kwargs: Any) -> list[bool]:
        if self._newer is not None:
            self._ledger.record_level(self._newer)
            self._newer = None
        return list(self._ledger.record_confirmations(confirmations, **kwargs))


def test_a_newer_level_recorded_during_the_call_is_pushed_after_it(stock: StockExport) -> None:
    newer = SkuWarehouseStock(
        shop_id=stock.shop_id,
        sku_id=MUG_RED,
        warehouse_id=EAST,
        product_id=MUG_PRODUCT,
        seller_sku="MUG-RED",
        level_available=2,
        level_as_of=T0 + 5,
        level_message_id="concurrent",
    )
    stock.use(ledger=RacingLedger(stock.ledger, newer))
    assert failed_ids(stock.consume(level("MUG-RED", 9, as_of=T0))) == []
    assert stock.tiktok_stock(MUG_RED)[EAST] == 2  # TikTok ends on the newest level
    entry = stock.ledger.get(stock.shop_id, [(MUG_RED, EAST)])[(MUG_RED, EAST)]
    assert (entry.confirmed_value, entry.confirmed_as_of) == (2, T0 + 5)


def test_a_429_storm_ends_in_success_or_the_dlq_never_silence(stock: StockExport) -> None:
    path = f"/product/202309/products/{MUG_PRODUCT}/inventory/update"
    record = sqs_record(level("MUG-RED", 14, as_of=T0), "storm")
    stock.sandbox.inject_fault(path, "429", count=1_000)
    receives = 0
    while receives < 5:  # the queue's maxReceiveCount: then the DLQ keeps it
        receives += 1
        if failed_ids(stock.invoke({"Records": [record]})) == []:
            break
    assert receives == 5 and stock.tiktok_stock(MUG_RED)[EAST] == 40  # DLQ: not lost
    stock.sandbox.clear_faults()
    stock.sandbox.inject_fault(path, "429", count=4)
    stock.sandbox.inject_fault(path, "timeout", count=1, sleep_seconds=1.5)
    for _ in range(5):  # redriven from the DLQ: throttled, timed out, then through
        if failed_ids(stock.invoke({"Records": [record]})) == []:
            break
    assert stock.tiktok_stock(MUG_RED)[EAST] == 14
