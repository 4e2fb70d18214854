"""FilterCriteria of event source mappings: the pattern subset Lambda documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tts_local.stack.event_filters import compile_filters, passes

STREAM_RECORD = {
    "eventName": "INSERT",
    "dynamodb": {"NewImage": {"type": {"S": "ORDER_STATUS_CHANGE"}, "qty": {"N": "5"}}},
}
SQS_RECORD = {"body": json.dumps({"kind": "stock", "sku": "SKU-1"}), "messageId": "m1"}


def criteria(*patterns: dict[str, Any]) -> list[dict[str, Any]]:
    return compile_filters({"Filters": [{"Pattern": json.dumps(p)} for p in patterns]})


@pytest.mark.parametrize(
    ("patterns", "record", "expected"),
    [
        ([], STREAM_RECORD, True),
        ([{"eventName": ["INSERT", "MODIFY"]}], STREAM_RECORD, True),
        ([{"eventName": ["REMOVE"]}], STREAM_RECORD, False),
        (
            [{"dynamodb": {"NewImage": {"type": {"S": [{"prefix": "ORDER_"}]}}}}],
            STREAM_RECORD,
            True,
        ),
        (
            [{"dynamodb": {"NewImage": {"qty": {"N": [{"numeric": [">", 3, "<=", 5]}]}}}}],
            STREAM_RECORD,
            True,
        ),
        ([{"dynamodb": {"NewImage": {"gone": [{"exists": False}]}}}], STREAM_RECORD, True),
        ([{"eventName": [{"anything-but": ["INSERT"]}]}], STREAM_RECORD, False),
        ([{"eventName": ["REMOVE"]}, {"eventName": ["INSERT"]}], STREAM_RECORD, True),  # any filter
        ([{"body": {"kind": ["stock"]}}], SQS_RECORD, True),  # SQS bodies match as JSON
        ([{"body": {"sku": [{"suffix": "-2"}]}}], SQS_RECORD, False),
    ],
)
def test_filter_patterns(
    patterns: list[dict[str, Any]], record: dict[str, Any], expected: bool
) -> None:
    assert passes(criteria(*patterns), record) is expected
