"""The QuantityExportQueue contract: the committed schema matches the model, the model accepts
exactly the documented shapes, and template.yaml wires the queue, its DLQ and the function the
way design.md asks (partial batch failures, visibility >= 6x timeout, a receive limit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import REPO_ROOT, template_resources
from tts_sync.stock.batch import InvalidQuantityMessageError, parse_quantity_message
from tts_sync.stock.schemas import (
    INBOUND_SCHEMA_DIR,
    expected_inbound_files,
    inbound_schema_drift,
    write_inbound_schemas,
)

ISSUE_SHAPE = {
    "shop_id": "7495540735365777507",
    "seller_sku": "TSHIRT-RED-M",
    "location_id": "WH-EAST",
    "available": 42,
    "as_of": "2026-12-01T10:00:00Z",
}


def test_committed_schema_matches_the_model() -> None:
    for name, text in expected_inbound_files().items():
        path = REPO_ROOT / INBOUND_SCHEMA_DIR / name
        assert path.is_file(), f"{path} missing; run: uv run tts-sync schemas write"
        assert path.read_text(encoding="utf-8") == text, "run: uv run tts-sync schemas write"
    assert inbound_schema_drift(REPO_ROOT) == []


def test_drift_is_reported(tmp_path: Path) -> None:
    assert inbound_schema_drift(tmp_path) == [
        f"{INBOUND_SCHEMA_DIR}/quantity-export.json is missing"
    ]
    write_inbound_schemas(tmp_path)
    assert inbound_schema_drift(tmp_path) == []
    (tmp_path / INBOUND_SCHEMA_DIR / "quantity-export.json").write_text("{}")
    assert inbound_schema_drift(tmp_path) == [
        f"{INBOUND_SCHEMA_DIR}/quantity-export.json differs from the models"
    ]


def test_the_issue_shape_and_its_variants_parse() -> None:
    (one,) = parse_quantity_message(json.dumps(ISSUE_SHAPE))
    assert (one.seller_sku, one.location_id, one.available) == ("TSHIRT-RED-M", "WH-EAST", 42)
    assert one.as_of_epoch == 1_796_119_200.0
    by_ids = {
        "shop_id": 7495540735365777507,  # a bare number: kept exactly, as a string
        "product_id": "1729582718312380001",
        "sku_id": "1729582718312381001",
        "warehouse_id": "7000000000000001001",
        "available": 0,
        "as_of": "2026-12-01T11:00:00+01:00",
    }
    (two,) = parse_quantity_message(json.dumps(by_ids))
    assert two.shop_id == "7495540735365777507" and two.as_of_epoch == one.as_of_epoch
    many = parse_quantity_message(json.dumps({"levels": [ISSUE_SHAPE, by_ids]}))
    assert [lv.available for lv in many] == [42, 0]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "body is not JSON"),
        ("[1]", "body must be a JSON object"),
        (json.dumps({**ISSUE_SHAPE, "available": -1}), "available: Input should be greater"),
        (json.dumps({**ISSUE_SHAPE, "available": "42"}), "available: Input should be a valid int"),
        (json.dumps({**ISSUE_SHAPE, "available": 4.5}), "available: Input should be a valid int"),
        (json.dumps({**ISSUE_SHAPE, "as_of": "2026-12-01T10:00:00"}), "as_of: Input should have"),
        (json.dumps({**ISSUE_SHAPE, "sku_id": "1"}), "not both"),
        (json.dumps({**ISSUE_SHAPE, "warehouse_id": "1"}), "exactly one of location_id"),
        (json.dumps({**ISSUE_SHAPE, "extra": 1}), "extra: Extra inputs are not permitted"),
        (json.dumps({"levels": []}), "levels: List should have at least 1 item"),
        (json.dumps({k: v for k, v in ISSUE_SHAPE.items() if k != "seller_sku"}), "seller_sku"),
    ],
)
def test_invalid_bodies_say_exactly_why(body: str, reason: str) -> None:
    with pytest.raises(InvalidQuantityMessageError) as caught:
        parse_quantity_message(body)
    assert reason in str(caught.value)


def test_template_wires_the_queue_dlq_and_function() -> None:
    resources = template_resources()
    queue = resources["QuantityExportQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": "QuantityExportDeadLetterQueue.Arn"
    }
    assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 10  # never retried forever
    assert queue["SqsManagedSseEnabled"] is True
    assert resources["QuantityExportDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    function = resources["QuantityExportFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    events = function["Events"]
    sqs = events["StockLevels"]["Properties"]
    assert sqs["Queue"] == {"Fn::GetAtt": "QuantityExportQueue.Arn"}
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The stream mapping is a resource of its own (scoped stream permissions, no SAM role).
    stream = resources["QuantityExportFunctionReservationChanges"]["Properties"]
    assert stream["FunctionName"] == {"Ref": "QuantityExportFunction"}
    assert stream["EventSourceArn"] == {"Fn::GetAtt": "ReservationsTable.StreamArn"}
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert resources["ReservationsTable"]["Properties"]["StreamSpecification"]
    assert function["CodeUri"] == "functions/quantity_export/"
    assert (REPO_ROOT / "functions" / "quantity_export" / "app.py").is_file()
