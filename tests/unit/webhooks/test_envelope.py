"""Envelope parsing, per-type validation and the deduplication key."""

import json
from pathlib import Path

import pytest

from tts_sync.webhooks.envelope import InvalidPayloadError, parse_envelope

SAMPLES = Path(__file__).parents[3] / "events" / "webhooks"


def body(**overrides) -> bytes:
    document = {
        "type": 1,
        "tts_notification_id": "n-1",
        "shop_id": "7494",
        "timestamp": 1764230000,
        "data": {
            "order_id": "5764",
            "order_status": "AWAITING_SHIPMENT",
            "update_time": 1764229990,
        },
    }
    document.update(overrides)
    return json.dumps(document).encode()


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_shipped_sample_parses(sample):
    envelope = parse_envelope(sample.read_bytes())
    assert envelope.event_key
    assert envelope.shop_id.isdigit()


def test_numeric_ids_become_strings():
    envelope = parse_envelope((SAMPLES / "legacy_without_notification_id.json").read_bytes())
    assert envelope.shop_id == "7494049642642441621"
    assert envelope.tts_notification_id is None
    assert envelope.event_key.startswith("derived:")


def test_notification_id_is_the_key():
    assert parse_envelope(body()).event_key == "n-1"


def test_unknown_type_is_valid_and_named():
    envelope = parse_envelope(body(type=99, data={"anything": [1, 2]}))
    assert envelope.type_name == "UNKNOWN_99"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"", "not JSON"),
        (body(type="one"), "type"),
        (body(type=True), "type"),
        (body(timestamp=None), "timestamp"),
        (body(shop_id=""), "shop_id"),
        (body(data=[]), "data"),
        (body(data={"order_status": "UNPAID", "update_time": 1}), "order_id"),
        (body(type=4, data={"package_list": [{"order_id_list": []}]}), "package_id"),
        (body(type=5, data={"status": "PRODUCT_STATUS_CHANGED"}), "product_id"),
    ],
)
def test_invalid_bodies_name_the_problem(raw, reason):
    with pytest.raises(InvalidPayloadError) as caught:
        parse_envelope(raw)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        (1, {"order_id": "5764"}),
        (4, {"sc_type": "SPLIT"}),
        (7, {"message": "expiring"}),
        (3, {"order_id": 5764}),
    ],
)
def test_fields_downstream_can_do_without_are_optional(event_type, data):
    assert parse_envelope(body(type=event_type, data=data)).type == event_type


def test_invalid_reason_never_echoes_values():
    secret_address = "221B Baker Street"
    with pytest.raises(InvalidPayloadError) as caught:
        parse_envelope(body(data={"order_id": {"address": secret_address}, "update_time": 1}))
    assert secret_address not in caught.value.reason


def legacy(**data_overrides) -> bytes:
    data = {"order_id": "5764", "order_status": "AWAITING_SHIPMENT", "update_time": 100}
    data.update(data_overrides)
    return json.dumps(
        {"type": 1, "shop_id": "7494", "timestamp": 1764230000, "data": data}
    ).encode()


def test_fallback_key_is_stable_for_the_same_notification_and_formatting():
    same = json.dumps(json.loads(legacy()), indent=2).encode()
    numeric_ids = legacy(order_id=5764)
    keys = {parse_envelope(raw).event_key for raw in (legacy(), same, numeric_ids)}
    assert len(keys) == 1


@pytest.mark.parametrize(
    "change",
    [{"update_time": 101}, {"order_id": "5765"}, {"order_status": "CANCELLED"}],
)
def test_fallback_key_changes_with_what_identifies_a_notification(change):
    assert parse_envelope(legacy()).event_key != parse_envelope(legacy(**change)).event_key


def test_fallback_key_without_data_time_uses_envelope_timestamp():
    def deauth(ts: int) -> bytes:
        return json.dumps({"type": 6, "shop_id": "1", "timestamp": ts, "data": {}}).encode()

    assert parse_envelope(deauth(1)).event_key != parse_envelope(deauth(2)).event_key
    assert parse_envelope(deauth(1)).event_key == parse_envelope(deauth(1)).event_key
