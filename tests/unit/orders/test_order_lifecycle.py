"""The monotonic order record: any permutation or duplication of one order's states ends in
the newest, each real change is published once, and reservations follow the final state."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.orders.fakes import SHOP_ID, MemoryOrderStore, record, tiktok_order
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_sync.orders.lifecycle import describe_change, is_newer
from tts_sync.orders.outbound_events import order_events
from tts_sync.orders.reservations import ReservationState, reservations_for, units_by_sku
from tts_sync.orders.sync import ApplyOutcome, SyncContext, apply_states
from tts_sync.outbound import OrderEventType

# One order's life as TikTok reports it: status, update_time.
LIFE = [
    ("UNPAID", 100),
    ("ON_HOLD", 110),
    ("AWAITING_SHIPMENT", 120),
    ("IN_TRANSIT", 130),
    ("DELIVERED", 140),
    ("COMPLETED", 150),
]
CANCELLED_LIFE = [("UNPAID", 100), ("ON_HOLD", 110), ("CANCELLED", 115)]


def context(store: MemoryOrderStore, publisher: MemoryEventPublisher) -> SyncContext:
    return SyncContext(store=store, publisher=publisher, clock=lambda: 1_700_000_000.0)


def states(life: list[tuple[str, int]], order_id: str = "576000000000000001") -> list:
    return [record(tiktok_order(order_id, s, t), fetched_at_ms=t) for s, t in life]


@settings(max_examples=150, deadline=None)
@given(
    life=st.sampled_from([LIFE, CANCELLED_LIFE]),
    data=st.data(),
)
def test_any_permutation_or_duplication_ends_in_the_newest_state(life, data) -> None:
    deliveries = data.draw(
        st.lists(st.sampled_from(range(len(life))), min_size=1, max_size=12).flatmap(
            lambda picks: st.permutations(picks + list(range(len(life))))
        )
    )
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    all_states = states(life)
    # One delivery at a time (each its own batch), as reordered webhooks would hydrate.
    for index in deliveries:
        apply_states(SHOP_ID, [all_states[index]], context(store, publisher))
    final = store.orders[(SHOP_ID, all_states[0].order_id)].record
    newest = max(all_states, key=lambda r: r.update_time)
    assert (final.status, final.update_time) == (newest.status, newest.update_time)
    event_ids = [event.event_id for event in publisher.published]
    assert len(event_ids) == len(set(event_ids)), "an event was published twice"
    types = publisher.detail_types()
    assert types.count(OrderEventType.CREATED) == 1
    assert len(types) == len(set(types)), types
    # Whatever was seen first, the final state's own event went out.
    final_event = {
        "COMPLETED": OrderEventType.DELIVERED,
        "CANCELLED": OrderEventType.CANCELLED,
    }[newest.status]
    assert final_event in types
    pending = store.orders[(SHOP_ID, final.order_id)].pending_events
    assert pending == {}


def test_a_batch_with_every_state_applies_only_the_newest() -> None:
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    report = apply_states(SHOP_ID, list(reversed(states(LIFE))), context(store, publisher))
    assert report.outcomes == {"576000000000000001": ApplyOutcome.APPLIED}
    assert publisher.detail_types() == [OrderEventType.CREATED, OrderEventType.DELIVERED]


def test_the_same_state_twice_is_a_no_op_that_publishes_nothing() -> None:
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    first = states([("ON_HOLD", 110)])[0]
    again = first.model_copy(update={"fetched_at_ms": first.fetched_at_ms + 5_000})
    apply_states(SHOP_ID, [first], context(store, publisher))
    report = apply_states(SHOP_ID, [again], context(store, publisher))
    assert report.outcomes == {first.order_id: ApplyOutcome.UNCHANGED}
    assert publisher.detail_types() == [OrderEventType.CREATED, OrderEventType.ON_HOLD]
    assert store.writes == 1


def test_equal_update_time_ties_break_by_status_progression() -> None:
    on_hold = record(tiktok_order("1", "ON_HOLD", 200), fetched_at_ms=2)
    ready = record(tiktok_order("1", "AWAITING_SHIPMENT", 200), fetched_at_ms=1)
    assert is_newer(ready, on_hold) and not is_newer(on_hold, ready)


def test_an_address_edit_without_a_new_update_time_still_refreshes_the_record() -> None:
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    before = record(tiktok_order("1", "AWAITING_SHIPMENT", 300), fetched_at_ms=10)
    moved = tiktok_order(
        "1",
        "AWAITING_SHIPMENT",
        300,
        recipient_address={"name": "Alex", "full_address": "9 Elm St"},
        has_updated_recipient_address=True,
    )
    apply_states(SHOP_ID, [before], context(store, publisher))
    # A stale read of the old address (fetched earlier) must not undo the edit ...
    apply_states(SHOP_ID, [record(moved, fetched_at_ms=20)], context(store, publisher))
    apply_states(
        SHOP_ID, [before.model_copy(update={"fetched_at_ms": 15})], context(store, publisher)
    )
    stored = store.orders[(SHOP_ID, "1")].record
    assert stored.buyer.recipient_address is not None
    assert stored.buyer.recipient_address.full_address == "9 Elm St"
    assert publisher.detail_types() == [
        OrderEventType.CREATED,
        OrderEventType.READY_TO_SHIP,
        OrderEventType.ADDRESS_CHANGED,
    ]
    changed = publisher.published[-1].detail
    assert changed.shipping_address is not None  # type: ignore[union-attr]
    assert changed.changes == ["recipient_address"]  # type: ignore[union-attr]


def test_the_hold_ending_is_ready_to_ship_not_an_address_change() -> None:
    hold, ready = states([("ON_HOLD", 110), ("AWAITING_SHIPMENT", 120)])
    change = describe_change(hold, ready)
    assert change.events == [OrderEventType.READY_TO_SHIP]
    assert "recipient_address" in change.changes and "status" in change.changes


def test_unknown_statuses_are_stored_not_crashed_on() -> None:
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    odd = record(tiktok_order("1", "AWAITING_PICKUP_BY_DRONE", 500))
    report = apply_states(SHOP_ID, [odd], context(store, publisher))
    assert report.outcomes == {"1": ApplyOutcome.APPLIED}
    assert store.orders[(SHOP_ID, "1")].record.status == "AWAITING_PICKUP_BY_DRONE"
    assert publisher.detail_types() == [OrderEventType.CREATED]
    # Unknown statuses hold stock (never oversell while we learn what it means).
    assert store.held_units(SHOP_ID) == {"SKU-1": 1}


def test_webhook_spelling_cancel_is_stored_as_cancelled() -> None:
    assert record(tiktok_order("1", "CANCEL", 5)).status == "CANCELLED"


def test_a_publish_failure_keeps_the_events_on_the_order_until_published() -> None:
    orders, events = MemoryOrderStore(), MemoryEventPublisher()
    hold = states([("ON_HOLD", 110)])[0]

    class Refusing(MemoryEventPublisher):
        def publish(self, batch):  # type: ignore[no-untyped-def]
            # EventBridge down: every entry refused.
            self.refuse_event_ids = {event.event_id for event in batch}
            super().publish(batch)

    refusing = Refusing()
    report = apply_states(SHOP_ID, [hold], context(orders, refusing))
    assert report.unpublished == 2 and refusing.published == []
    pending = orders.orders[(SHOP_ID, hold.order_id)]
    assert len(pending.pending_events) == 2
    # A later reader after the grace period publishes them once; a duplicate state adds none.
    later = SyncContext(store=orders, publisher=events, clock=lambda: 1_700_000_000.0 + 3600)
    again = apply_states(SHOP_ID, [hold], later)
    assert again.recovered == 2
    assert events.detail_types() == [OrderEventType.CREATED, OrderEventType.ON_HOLD]
    assert orders.orders[(SHOP_ID, hold.order_id)].pending_events == {}


def test_a_newer_state_carries_events_a_dead_writer_left_and_they_go_out_once() -> None:
    orders, events = MemoryOrderStore(), MemoryEventPublisher()
    hold, ready = states([("ON_HOLD", 110), ("AWAITING_SHIPMENT", 120)])
    down = MemoryEventPublisher()  # EventBridge refusing the first state's two events
    first_events = order_events(describe_change(None, hold), datetime.now(UTC))
    down.refuse_event_ids = {event.event_id for event in first_events}
    apply_states(SHOP_ID, [hold], context(orders, down))  # its events stay on the order
    carried = set(orders.orders[(SHOP_ID, hold.order_id)].pending_events)
    assert len(carried) == 2
    apply_states(SHOP_ID, [ready], context(orders, events))  # within the grace period
    assert events.detail_types() == [OrderEventType.READY_TO_SHIP]
    assert set(orders.orders[(SHOP_ID, hold.order_id)].pending_events) == carried
    later = SyncContext(store=orders, publisher=events, clock=lambda: 1_700_000_000.0 + 60)
    recovered = apply_states(SHOP_ID, [ready], later)
    assert recovered.recovered == 2
    assert sorted(events.detail_types()) == sorted(
        [OrderEventType.READY_TO_SHIP, OrderEventType.CREATED, OrderEventType.ON_HOLD]
    )


def test_a_newer_state_after_the_grace_period_publishes_the_dead_writers_events_too() -> None:
    orders, events = MemoryOrderStore(), MemoryEventPublisher()
    hold, ready = states([("ON_HOLD", 110), ("AWAITING_SHIPMENT", 120)])
    down = MemoryEventPublisher()
    down.refuse_event_ids = {
        event.event_id for event in order_events(describe_change(None, hold), datetime.now(UTC))
    }
    apply_states(SHOP_ID, [hold], context(orders, down))
    later = SyncContext(store=orders, publisher=events, clock=lambda: 1_700_000_000.0 + 60)
    apply_states(SHOP_ID, [ready], later)
    assert events.detail_types() == [
        OrderEventType.CREATED,
        OrderEventType.ON_HOLD,
        OrderEventType.READY_TO_SHIP,
    ]
    assert orders.orders[(SHOP_ID, hold.order_id)].pending_events == {}


def test_a_storage_failure_on_one_order_leaves_the_others_of_the_batch_applied() -> None:
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    good = record(tiktok_order("good", "ON_HOLD", 110))
    bad = record(tiktok_order("bad", "ON_HOLD", 110))
    store.fail_writes_of = {"bad"}
    report = apply_states(SHOP_ID, [bad, good], context(store, publisher))
    assert report.outcomes == {"bad": ApplyOutcome.FAILED, "good": ApplyOutcome.APPLIED}
    assert {e.detail.order_id for e in publisher.published} == {"good"}  # type: ignore[union-attr]


# ---------------------------------------------------------------- reservations


@pytest.mark.parametrize(
    ("status", "state", "held"),
    [
        ("UNPAID", ReservationState.NONE, 0),
        ("ON_HOLD", ReservationState.HELD, 2),
        ("AWAITING_SHIPMENT", ReservationState.HELD, 2),
        ("IN_TRANSIT", ReservationState.CONSUMED, 0),
        ("CANCELLED", ReservationState.RELEASED, 0),
    ],
)
def test_reservation_follows_the_status(status: str, state: ReservationState, held: int) -> None:
    order = tiktok_order(
        "1",
        status,
        10,
        line_items=[{"id": "a", "sku_id": "S"}, {"id": "b", "sku_id": "S"}],
    )
    (reservation,) = reservations_for(record(order))
    assert (reservation.state, reservation.units, reservation.ordered_units) == (state, held, 2)


def test_bundles_hold_their_components_and_gifts_count_as_stock() -> None:
    order = tiktok_order(
        "1",
        "AWAITING_SHIPMENT",
        10,
        line_items=[
            {
                "id": "a",
                "sku_id": "BUNDLE",
                "seller_sku": "SET-1",
                "combined_listing_skus": [
                    {"sku_id": "MUG", "sku_count": 2},
                    {"sku_id": "TOTE", "sku_count": 1},
                ],
            },
            {"id": "b", "sku_id": "MUG", "seller_sku": "MUG-RED", "is_gift": True},
            {"id": "c", "sku_id": "STICKER", "seller_sku": ""},
        ],
    )
    stored = record(order)
    assert units_by_sku(stored) == {"MUG": 3, "TOTE": 1, "STICKER": 1}
    assert stored.unmapped_skus == ["STICKER"]  # stored and flagged, never dropped


def test_partially_shipped_orders_hold_only_their_unshipped_lines() -> None:
    order = tiktok_order(
        "1",
        "PARTIALLY_SHIPPING",
        10,
        line_items=[
            {"id": "a", "sku_id": "S", "display_status": "IN_TRANSIT"},
            {"id": "b", "sku_id": "S", "display_status": "AWAITING_SHIPMENT"},
        ],
    )
    (reservation,) = reservations_for(record(order))
    assert (reservation.units, reservation.ordered_units) == (1, 2)


def test_cancellation_releases_and_a_late_older_state_cannot_hold_again() -> None:
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    hold, cancelled = states([("ON_HOLD", 110), ("CANCELLED", 115)])
    for batch in ([hold], [cancelled], [hold]):
        apply_states(SHOP_ID, batch, context(store, publisher))
    assert store.held_units(SHOP_ID) == {}
    (reservation,) = store.reservations(SHOP_ID, "SKU-1")
    assert reservation.state is ReservationState.RELEASED


def test_every_order_of_the_life_applied_in_every_order_gives_one_ledger() -> None:
    """Asserts what was written, not only what is held: an empty ledger (nothing written at
    all) must fail this test, as must a ledger that depends on the delivery order."""
    for life, expected in (
        # IN_TRANSIT: consumed, whatever came first.
        (LIFE[:4], (ReservationState.CONSUMED, 0, 1, "IN_TRANSIT", 130)),
        # Ends ready to ship: still held.
        (LIFE[:3], (ReservationState.HELD, 1, 1, "AWAITING_SHIPMENT", 120)),
    ):
        ledgers = set()
        for permutation in itertools.permutations(states(life)):
            store = MemoryOrderStore()
            for state in permutation:
                apply_states(SHOP_ID, [state], context(store, MemoryEventPublisher()))
            assert store.writes >= 1
            (reservation,) = store.reservations(SHOP_ID, "SKU-1")
            ledgers.add(
                (
                    reservation.state,
                    reservation.units,
                    reservation.ordered_units,
                    reservation.order_status,
                    reservation.order_update_time,
                )
            )
            held = store.held_units(SHOP_ID)
            assert held == ({"SKU-1": 1} if expected[0] is ReservationState.HELD else {})
        assert ledgers == {expected}


# ---------------------------------------------------------------- address changes


def _with_address(status: str, address: dict | None, update_time: int = 300):  # type: ignore[no-untyped-def]
    return record(
        tiktok_order("1", status, update_time, recipient_address=address or {}),
        fetched_at_ms=update_time,
    )


HOME = {"name": "Alex", "full_address": "1 Main"}
ELM = {"name": "Alex", "full_address": "9 Elm St"}


@pytest.mark.parametrize(
    "status", ["AWAITING_SHIPMENT", "PARTIALLY_SHIPPING", "AWAITING_COLLECTION"]
)
def test_an_address_edit_is_an_address_change_while_the_order_can_still_ship(status) -> None:  # type: ignore[no-untyped-def]
    change = describe_change(_with_address(status, HOME), _with_address(status, ELM))
    assert change.events == [OrderEventType.ADDRESS_CHANGED]


@pytest.mark.parametrize(
    "status", ["AWAITING_SHIPMENT", "PARTIALLY_SHIPPING", "AWAITING_COLLECTION"]
)
def test_an_address_appearing_after_ready_to_ship_is_an_address_change(status) -> None:  # type: ignore[no-untyped-def]
    # READY_TO_SHIP went out without an address (TikTok lagging): the first address is news.
    change = describe_change(_with_address(status, None), _with_address(status, HOME))
    assert change.previous is not None and change.previous.buyer.recipient_address is None
    assert change.events == [OrderEventType.ADDRESS_CHANGED]


def test_shipping_with_a_new_address_still_reports_the_address() -> None:
    # AWAITING_COLLECTION: the carrier has yet to collect, the label can still be redone.
    change = describe_change(
        _with_address("AWAITING_SHIPMENT", HOME, 300),
        _with_address("AWAITING_COLLECTION", ELM, 310),
    )
    assert change.events == [OrderEventType.SHIPPED, OrderEventType.ADDRESS_CHANGED]


@pytest.mark.parametrize("status", ["IN_TRANSIT", "DELIVERED", "COMPLETED", "CANCELLED"])
def test_no_address_change_once_the_order_cannot_ship_to_it(status) -> None:  # type: ignore[no-untyped-def]
    same_status = describe_change(_with_address(status, HOME), _with_address(status, ELM))
    appearing = describe_change(_with_address(status, None), _with_address(status, ELM))
    assert same_status.events == [] and appearing.events == []
    assert "recipient_address" in same_status.changes  # still recorded as a change
    moved_on = describe_change(
        _with_address("AWAITING_COLLECTION", HOME, 300), _with_address(status, ELM, 310)
    )
    assert OrderEventType.ADDRESS_CHANGED not in moved_on.events


def test_an_address_removed_is_not_an_address_change() -> None:
    change = describe_change(
        _with_address("AWAITING_SHIPMENT", HOME), _with_address("AWAITING_SHIPMENT", None)
    )
    assert change.events == []


def test_each_address_change_has_its_own_event_id_even_back_and_forth() -> None:
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    # A -> B -> A -> B at one update_time (an address edit does not move TikTok's clock).
    for fetched_at, address in enumerate([HOME, ELM, HOME, ELM], start=1):
        state = record(
            tiktok_order("1", "AWAITING_SHIPMENT", 300, recipient_address=address),
            fetched_at_ms=fetched_at * 10,
        )
        apply_states(SHOP_ID, [state], context(store, publisher))
    changed = [
        event.event_id
        for event in publisher.published
        if event.detail_type == OrderEventType.ADDRESS_CHANGED
    ]
    assert len(changed) == 3
    assert len(set(changed)) == 3, "a later A->B reused the id of the first (deduplicated away)"


def test_the_same_address_change_seen_twice_keeps_its_event_id() -> None:
    before = _with_address("AWAITING_SHIPMENT", HOME)
    after = record(
        tiktok_order("1", "AWAITING_SHIPMENT", 300, recipient_address=ELM), fetched_at_ms=400
    )
    when = datetime.now(UTC)
    ids = {
        event.event_id
        for _ in range(2)  # two workers (or a redelivery) deciding on the same stored state
        for event in order_events(describe_change(before, after), when, previous_revision=4)
    }
    assert len(ids) == 1


def test_a_pending_event_that_no_longer_parses_does_not_fail_the_batch() -> None:
    """An event written by an older release, left pending by a crash: the other orders of the
    batch (and the order's own new state) still go through; the unreadable one stays kept."""
    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    old, other = states([("ON_HOLD", 110)])[0], states([("ON_HOLD", 110)], "2")[0]
    apply_states(SHOP_ID, [old], context(store, publisher))
    stored = store.orders[(SHOP_ID, old.order_id)]
    store.orders[(SHOP_ID, old.order_id)] = stored.model_copy(
        update={
            "pending_events": {"old-release": '{"detail_type": "Order Teleported"}'},
            "pending_since_ms": 1,
        }
    )
    later = SyncContext(store=store, publisher=publisher, clock=lambda: 1_700_000_000.0 + 60)
    report = apply_states(SHOP_ID, [old, other], later)  # re-reads both: recovers leftovers
    assert report.outcomes == {old.order_id: ApplyOutcome.UNCHANGED, "2": ApplyOutcome.APPLIED}
    ready = states([("AWAITING_SHIPMENT", 120)])[0]
    report = apply_states(SHOP_ID, [ready], later)  # a newer state carries the leftovers
    assert report.outcomes == {old.order_id: ApplyOutcome.APPLIED}
    assert publisher.detail_types()[-1] == OrderEventType.READY_TO_SHIP
    assert "old-release" in store.orders[(SHOP_ID, old.order_id)].pending_events


def test_a_poll_read_at_the_same_update_time_never_undoes_a_detail_read() -> None:
    """Order search reads an index that can lag Get Order Detail: at one update_time a later
    poll read of the old address must not replace the edit the detail read saw."""
    from tts_sync.orders.models import OrderSource

    store, publisher = MemoryOrderStore(), MemoryEventPublisher()
    detail = _with_address("AWAITING_SHIPMENT", ELM)  # fetched at 300, source webhook
    stale = _with_address("AWAITING_SHIPMENT", HOME).model_copy(
        update={"fetched_at_ms": 900, "source": OrderSource.POLL}
    )
    assert not is_newer(stale, detail)
    apply_states(SHOP_ID, [detail], context(store, publisher))
    before = len(publisher.published)
    report = apply_states(SHOP_ID, [stale], context(store, publisher))
    assert report.outcomes == {"1": ApplyOutcome.UNCHANGED}
    assert len(publisher.published) == before
    # A later detail read still wins over a poll read, and poll over an older poll.
    oak = {"name": "Alex", "full_address": "3 Oak Rd"}
    newer_detail = _with_address("AWAITING_SHIPMENT", oak).model_copy(
        update={"fetched_at_ms": 1_000}
    )
    assert is_newer(newer_detail, stale)
    older_poll = stale.model_copy(update={"fetched_at_ms": 100})
    assert is_newer(stale.model_copy(update={"buyer": detail.buyer}), older_poll)
