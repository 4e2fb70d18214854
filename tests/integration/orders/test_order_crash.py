"""A consumer that dies in the middle of a batch (after some orders were written, before their
events went out or the batch was acknowledged) loses nothing and publishes nothing twice: the
stream delivers the batch again, and the events the dead writer left on its orders go out once,
after the grace period, through the next reader or the reconciliation run's sweep."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from tests.integration.orders.conftest import OrderSync
from tests.integration.orders.streams import stream_batch
from tests.unit.orders.fakes import MemoryOrderStore
from tts_sync.orders.ports import OrderWrite
from tts_sync.orders.reconcile import _recover_leftover_events
from tts_sync.orders.runtime import override_dependencies
from tts_sync.orders.sync import PENDING_GRACE_SECONDS, SyncContext

RED = {
    "sku_id": "1729582718312381001",
    "product_id": "1729582718312380001",
    "seller_sku": "MUG-RED",
}


class LambdaKilled(BaseException):
    """The runtime ending an invocation (timeout, out of memory): no except clause sees it."""


class DiesAfterWrites(MemoryOrderStore):
    def __init__(self, writes_before_death: int) -> None:
        super().__init__()
        self.remaining = writes_before_death

    def write(self, write: OrderWrite) -> bool:
        if self.remaining == 0:
            raise LambdaKilled
        self.remaining -= 1
        return super().write(write)

    def revive(self) -> None:
        self.remaining = -1


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_crash_mid_batch_loses_nothing_and_publishes_nothing_twice(
    memory_sync: OrderSync,
) -> None:
    sync, clock = memory_sync, Clock()
    store = DiesAfterWrites(writes_before_death=4)
    context = SyncContext(store=store, publisher=sync.publisher, clock=clock)
    override_dependencies(dataclasses.replace(sync.dependencies, sync=context))
    orders = [sync.sandbox.place_order(sync.shop_id, [RED], notify=False) for _ in range(10)]
    batch = stream_batch([n.envelope() for n in sync.sandbox.notifications_for()])

    with pytest.raises(LambdaKilled):
        sync.consume(batch)
    assert len(store.orders) == 4 and sync.publisher.published == []  # written, not published

    store.revive()
    assert sync.consume(batch) == {"batchItemFailures": []}  # the stream's redelivery
    assert {o.record.order_id for o in store.orders.values()} == {o.id for o in orders}
    # The four written before the crash wait for their writer's grace period to pass ...
    waiting = [s for s in store.orders.values() if s.pending_events]
    assert len(waiting) == 4

    clock.now += PENDING_GRACE_SECONDS + 1
    assert _recover_leftover_events(sync.shop_id, context) == 8  # Created + On Hold each
    assert all(not s.pending_events for s in store.orders.values())
    per_order = Counter(
        (e.detail.order_id, e.detail_type)  # type: ignore[union-attr]
        for e in sync.publisher.published
    )
    assert len(per_order) == 2 * len(orders) and set(per_order.values()) == {1}
    # ... and a later sweep finds nothing left to send.
    assert _recover_leftover_events(sync.shop_id, context) == 0
