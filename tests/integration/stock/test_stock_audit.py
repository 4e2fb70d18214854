"""The quantity export writes one audit entry per SKU and warehouse it pushed (value sent,
whether TikTok confirmed it, the units reserved); a redelivered level that is suppressed
writes nothing; the order's trail joins these entries while its units were held."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.integration.stock.conftest import EAST, MUG_RED, StockExport, failed_ids, level
from tests.integration.stock.test_quantity_export import T0
from tests.unit.audit.fakes import MemoryAuditLog
from tts_local.ops_show_cli import run_show
from tts_sync.audit.models import AuditKind, sku_subject
from tts_sync.ops.target import StackTarget


def test_each_push_is_an_entry_of_its_sku_and_a_suppressed_one_is_not(stock: StockExport) -> None:
    audit = MemoryAuditLog()
    stock.use(audit=audit)
    assert failed_ids(stock.consume(level(available=9, as_of=T0))) == []
    assert failed_ids(stock.consume(level(available=9, as_of=T0))) == []  # redelivered
    assert failed_ids(stock.consume(level(available=4, as_of=T0 + 60))) == []
    entries = audit.entries(sku_subject(stock.shop_id, MUG_RED))
    assert [e.kind for e in entries] == [AuditKind.STOCK_EXPORT] * 2
    assert [(e.ref, e.detail["value_sent"], e.detail["confirmed"]) for e in entries] == [
        (EAST, 9, True),
        (EAST, 4, True),
    ]
    assert entries[-1].detail["outcome"] == "confirmed"
    assert stock.tiktok_stock(MUG_RED)[EAST] == 4


def test_a_failing_audit_table_does_not_fail_the_export(stock: StockExport) -> None:
    audit = MemoryAuditLog()
    audit.failing = True
    stock.use(audit=audit)
    assert failed_ids(stock.consume(level(available=7, as_of=T0))) == []
    assert stock.tiktok_stock(MUG_RED)[EAST] == 7


def test_ops_show_sku_by_seller_sku_or_id(
    stock: StockExport, capsys: pytest.CaptureFixture[str]
) -> None:
    class Target(StackTarget):
        def invoker(self, logical_id: str) -> Callable[[dict[str, Any]], Mapping[str, Any]]:
            assert logical_id == "QuantityExportFunction"
            return stock.invoke

    assert failed_ids(stock.consume(level(available=6, as_of=T0))) == []
    target = Target("test", {})
    for name in ("MUG-RED", MUG_RED):
        capsys.readouterr()
        args = argparse.Namespace(order=None, sku=name, shop=stock.shop_id)
        assert run_show(target, args) == 0
        shown = json.loads(capsys.readouterr().out)
        east = [e for e in shown["stock"] if e["warehouse_id"] == EAST]
        assert [(e["sku_id"], e["level_available"], e["confirmed_value"]) for e in east] == [
            (MUG_RED, 6, 6)
        ]
    args = argparse.Namespace(order=None, sku="NO-SUCH-SKU", shop=stock.shop_id)
    assert run_show(target, args) == 1
