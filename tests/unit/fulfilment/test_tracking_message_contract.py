"""The TrackingUploadQueue contract: the committed schema matches the model, the model accepts
the issue's shape and its variants, and refuses everything else with the field and the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import REPO_ROOT
from tts_sync.fulfilment.batch import InvalidTrackingMessageError, parse_tracking_message
from tts_sync.fulfilment.schemas import (
    INBOUND_SCHEMA_DIR,
    expected_files,
    schema_drift,
    write_schemas,
)

ISSUE_SHAPE = {
    "shop_id": "7495540735365777507",
    "order_id": "576653688135258178",
    "carrier": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "shipped_at": "2026-12-01T15:00:00Z",
    "line_item_ids": ["576653688135520322"],
}


def test_committed_schema_matches_the_model() -> None:
    for name, text in expected_files().items():
        path = REPO_ROOT / INBOUND_SCHEMA_DIR / name
        assert path.is_file(), f"{path} missing; run: uv run tts-sync schemas write"
        assert path.read_text(encoding="utf-8") == text, "run: uv run tts-sync schemas write"
    assert schema_drift(REPO_ROOT) == []


def test_drift_is_reported(tmp_path: Path) -> None:
    name = f"{INBOUND_SCHEMA_DIR}/tracking-upload.json"
    assert schema_drift(tmp_path) == [f"{name} is missing"]
    write_schemas(tmp_path)
    assert schema_drift(tmp_path) == []
    (tmp_path / name).write_text("{}")
    assert schema_drift(tmp_path) == [f"{name} differs from the models"]


def test_the_issue_shape_and_its_variants_parse() -> None:
    one = parse_tracking_message(json.dumps(ISSUE_SHAPE))
    assert (one.carrier, one.tracking_number, one.line_item_ids) == (
        "UPS",
        "1Z999AA10123456784",
        ["576653688135520322"],
    )
    assert one.shipped_at_epoch == 1_796_137_200
    whole = {k: v for k, v in ISSUE_SHAPE.items() if k != "line_item_ids"}
    whole["order_id"] = 576653688135258178  # a bare number: kept exactly, as a string
    two = parse_tracking_message(json.dumps({**whole, "package_id": "1152921504606846976"}))
    assert two.order_id == "576653688135258178" and two.package_id == "1152921504606846976"
    # The business key names order, package (or lines) and tracking; not the message.
    assert one.business_key.startswith("576653688135258178#lines:")
    assert two.business_key == "576653688135258178#package:1152921504606846976#1Z999AA10123456784"
    assert parse_tracking_message(json.dumps(whole)).business_key.endswith(
        "#order#1Z999AA10123456784"
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "body is not JSON"),
        ("[1]", "body must be a JSON object"),
        ("x" * 300_000, "body larger than"),
        (json.dumps({**ISSUE_SHAPE, "carrier": "  "}), "carrier: Value error, carrier must not"),
        (json.dumps({**ISSUE_SHAPE, "tracking_number": ""}), "tracking_number: String should"),
        (json.dumps({**ISSUE_SHAPE, "tracking_number": "1Z 99"}), "tracking_number: String should"),
        (json.dumps({**ISSUE_SHAPE, "shipped_at": "2026-12-01T15:00:00"}), "shipped_at: Input"),
        (json.dumps({**ISSUE_SHAPE, "line_item_ids": []}), "line_item_ids: List should have"),
        (json.dumps({**ISSUE_SHAPE, "line_item_ids": ["1", "1"]}), "must not repeat"),
        (json.dumps({**ISSUE_SHAPE, "extra": 1}), "extra: Extra inputs are not permitted"),
        (json.dumps({k: v for k, v in ISSUE_SHAPE.items() if k != "order_id"}), "order_id: Field"),
    ],
)
def test_invalid_bodies_say_exactly_why(body: str, reason: str) -> None:
    with pytest.raises(InvalidTrackingMessageError) as caught:
        parse_tracking_message(body)
    assert reason in str(caught.value)


def test_log_reasons_keep_tracking_numbers_out_but_ids_and_codes_in() -> None:
    from tts_sync.fulfilment.batch import loggable_reason

    reason = (
        "TikTok refused mark_shipped of order 576653688135258178: package 1152921504 already "
        "shipped with 1ZOLD0000000001 (code=21011001); ours 1Z-999_AA, fedex 123456789012, "
        "usps 9400111899223856928499, provider 7129736992520250113"
    )
    logged = loggable_reason(reason, "1Z-999_AA")
    for tracking in ("1ZOLD0000000001", "1Z-999_AA", "123456789012", "9400111899223856928499"):
        assert tracking not in logged
    for kept in ("576653688135258178", "21011001", "7129736992520250113", "mark_shipped"):
        assert kept in logged
