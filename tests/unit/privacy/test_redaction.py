"""Erasing one order: buyer data gone, buyer id pseudonymised, financial facts kept, pending
events without a shipping address; idempotent."""

from __future__ import annotations

from tests.unit.privacy.builders import KEY, order_record, pii_values, stored
from tts_sync.outbound import OutboundEvent
from tts_sync.privacy.redaction import (
    erase_order,
    erased_webhook_payload,
    mentions,
    pseudonym,
)


def test_erasing_an_order_keeps_its_financial_facts() -> None:
    original = stored(order_record(7), with_pending_address=True)
    erased = erase_order(original, KEY, 1_796_000_123)
    assert erased is not None
    assert erased.revision == original.revision + 1
    record = erased.record
    keep = {"buyer", "fetched_at_ms", "source"}
    assert record.model_dump(exclude=keep) == original.record.model_dump(exclude=keep)
    assert record.buyer.user_id == pseudonym(KEY, original.record.buyer.user_id)
    assert record.buyer.erased_at == 1_796_000_123
    text = erased.model_dump_json()
    for value in pii_values(7):
        assert value not in text


def test_pending_events_lose_the_shipping_address_only() -> None:
    original = stored(order_record(8), with_pending_address=True)
    (before,) = original.pending_events.values()
    assert OutboundEvent.model_validate_json(before).detail.shipping_address is not None  # type: ignore[union-attr]
    erased = erase_order(original, KEY, 1)
    assert erased is not None
    (after,) = erased.pending_events.values()
    event = OutboundEvent.model_validate_json(after)
    assert event.detail.shipping_address is None  # type: ignore[union-attr]
    assert event.event_id == OutboundEvent.model_validate_json(before).event_id
    assert event.detail.order == OutboundEvent.model_validate_json(before).detail.order  # type: ignore[union-attr]


def test_erasing_twice_changes_nothing_more() -> None:
    once = erase_order(stored(order_record(9), with_pending_address=True), KEY, 5)
    assert once is not None
    assert erase_order(once, KEY, 99) is None


def test_the_pseudonym_is_keyed_stable_and_not_the_id() -> None:
    a = pseudonym(KEY, "7494049642642441621")
    assert a == pseudonym(KEY, "7494049642642441621")
    assert a != pseudonym(b"another key of enough length!!!!!", "7494049642642441621")
    assert "7494049642642441621" not in a and a.startswith("psn_")
    assert pseudonym(KEY, a) == a  # a pseudonym is never pseudonymised again
    assert pseudonym(KEY, "") == ""


def test_mentions_matches_whole_ids_only() -> None:
    assert mentions('{"order_id":"576653688135258178"}', {"576653688135258178"})
    assert mentions('{"order_id":576653688135258178}', {"576653688135258178"})
    assert not mentions('{"order_id":"5766536881352581789"}', {"576653688135258178"})


def test_an_erased_webhook_payload_keeps_envelope_and_ids() -> None:
    payload = (
        '{"type":3,"tts_notification_id":"n-1","shop_id":"7495540735365777507",'
        '"timestamp":1796000000,"data":{"order_id":"576653688135258178","update_time":1796000000,'
        '"recipient":"Jo Doe, 1 Main St"}}'
    )
    erased = erased_webhook_payload(payload)
    assert "Jo Doe" not in erased and "recipient" not in erased
    assert '"order_id":"576653688135258178"' in erased and '"erased":true' in erased
    assert erased_webhook_payload(erased) == erased
    assert erased_webhook_payload("not json") == '{"erased": true}'
