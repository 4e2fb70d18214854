"""The deletion request contract: the issue's shapes are accepted, anything else is refused
with a precise reason that never repeats the values sent; the committed schema matches the
model; the console events are jobs the function accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO_ROOT, template_resources
from tts_sync.privacy import schemas
from tts_sync.privacy.jobs import (
    JOB_NAMES,
    InvalidPrivacyJobError,
    ReceiptJob,
    parse_privacy_job,
)
from tts_sync.privacy.models import (
    BuyerDeletionRequest,
    InvalidDeletionRequestError,
    ShopDeletionRequest,
    parse_deletion_request,
)

CONSOLE_EVENTS = REPO_ROOT / "events" / "console"
BUYER = {
    "request_id": "dsr-2026-0001",
    "shop_id": "7495540735365777507",
    "scope": "buyer",
    "buyer_user_id": "7494049642642441621",
    "order_ids": ["576653688135258178"],
    "requested_at": "2026-12-01T10:00:00Z",
    "requester": "privacy-portal",
}
SHOP = {
    "request_id": "dsr-2026-0002",
    "shop_id": "7495540735365777507",
    "scope": "shop",
    "requested_at": "2026-12-01T10:00:00Z",
    "requester": "deauthorization",
}


def test_the_issue_shapes_are_accepted() -> None:
    buyer = parse_deletion_request(json.dumps(BUYER))
    assert isinstance(buyer, BuyerDeletionRequest)
    assert buyer.order_ids == ["576653688135258178"]
    assert buyer.buyer_user_id == "7494049642642441621"
    shop = parse_deletion_request(json.dumps(SHOP))
    assert isinstance(shop, ShopDeletionRequest) and shop.shop_id == SHOP["shop_id"]


def test_a_buyer_request_may_name_only_orders_or_only_the_buyer() -> None:
    only_orders = {k: v for k, v in BUYER.items() if k != "buyer_user_id"}
    assert isinstance(parse_deletion_request(json.dumps(only_orders)), BuyerDeletionRequest)
    only_buyer = {k: v for k, v in BUYER.items() if k != "order_ids"}
    assert isinstance(parse_deletion_request(json.dumps(only_buyer)), BuyerDeletionRequest)


@pytest.mark.parametrize(
    ("body", "reason", "request_id"),
    [
        ("not json", "body is not JSON", None),
        ("[1]", "body must be a JSON object", None),
        (
            {**BUYER, "scope": "everything"},
            "scope: must be one of 'buyer', 'shop'",
            "dsr-2026-0001",
        ),
        (
            {k: v for k, v in BUYER.items() if k not in ("buyer_user_id", "order_ids")},
            "buyer: Value error, a buyer request needs buyer_user_id or order_ids",
            "dsr-2026-0001",
        ),
        (
            {**BUYER, "order_ids": [576653688135258178]},
            "buyer.order_ids.0: Input should be a valid string",
            "dsr-2026-0001",
        ),
        (
            {**BUYER, "requested_at": "2026-12-01T10:00:00"},
            "buyer.requested_at: Input should have timezone info",
            "dsr-2026-0001",
        ),
        (
            {**BUYER, "email": "jo@example.com"},
            "buyer.email: Extra inputs are not permitted",
            "dsr-2026-0001",
        ),
        (
            {**SHOP, "request_id": "bad id with spaces"},
            "shop.request_id: String should match pattern",
            None,
        ),
    ],
)
def test_an_invalid_request_gets_a_precise_reason_without_its_values(
    body: Any, reason: str, request_id: str | None
) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(InvalidDeletionRequestError) as caught:
        parse_deletion_request(text)
    assert reason in caught.value.reason
    assert caught.value.request_id == request_id
    for value in ("jo@example.com", "7494049642642441621", "576653688135258178", "everything"):
        assert value not in caught.value.reason


def test_committed_request_schema_matches_the_model() -> None:
    for name, text in schemas.expected_files().items():
        path = REPO_ROOT / schemas.SCHEMA_DIR / name
        assert path.is_file(), f"{path} missing; run: uv run tts-sync schemas write"
        assert path.read_text(encoding="utf-8") == text, "run: uv run tts-sync schemas write"


def test_schema_drift_names_the_file(tmp_path: Path) -> None:
    schemas.write_schemas(tmp_path)
    assert schemas.schema_drift(tmp_path) == []
    (tmp_path / schemas.SCHEMA_DIR / schemas.REQUEST_SCHEMA).write_text("{}\n")
    assert schemas.schema_drift(tmp_path) == [
        f"{schemas.SCHEMA_DIR / schemas.REQUEST_SCHEMA} differs from the models"
    ]


def test_every_privacy_console_event_is_a_job_or_a_queue_batch() -> None:
    files = sorted(CONSOLE_EVENTS.glob("privacy_deletion_*.json"))
    jobs = set()
    for path in files:
        document = json.loads(path.read_text())
        if "Records" in document:
            for record in document["Records"]:
                assert record["eventSource"] == "aws:sqs"
                assert isinstance(parse_deletion_request(record["body"]), BuyerDeletionRequest)
            continue
        jobs.add(parse_privacy_job(document).job)
    assert jobs == set(JOB_NAMES)
    receipt = parse_privacy_job(
        json.loads((CONSOLE_EVENTS / "privacy_deletion_receipt.json").read_text())
    )
    assert isinstance(receipt, ReceiptJob) and receipt.request_id == "dsr-2026-0001"


def test_the_schedules_send_the_console_events() -> None:
    events = template_resources()["PrivacyDeletionFunction"]["Properties"]["Events"]
    inputs = {
        name: json.loads(e["Properties"]["Input"])
        for name, e in events.items()
        if e["Type"] == "Schedule"
    }
    for name, file in (
        ("Retention", "privacy_deletion_retention.json"),
        ("DeauthorizedShops", "privacy_deletion_deauthorized_shops.json"),
        ("Deadlines", "privacy_deletion_deadlines.json"),
    ):
        assert inputs[name] == json.loads((CONSOLE_EVENTS / file).read_text())
    assert events["DeletionRequests"]["Properties"]["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"
    ]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"job": "erase"}, '"job" one of receipt, retention'),
        (["receipt"], "expected a JSON object"),
        ({"job": "receipt"}, "receipt: request_id: Field required"),
        (
            {"job": "retention", "shop_id": "1"},
            "retention: shop_id: Extra inputs are not permitted",
        ),
    ],
)
def test_a_malformed_job_gets_a_precise_error(event: Any, message: str) -> None:
    with pytest.raises(InvalidPrivacyJobError, match=message):
        parse_privacy_job(event)


def test_queue_and_dlq_as_the_design_wants() -> None:
    resources = template_resources()
    queue = resources["PrivacyDeletionQueue"]["Properties"]
    timeout = resources["PrivacyDeletionFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": "PrivacyDeletionDeadLetterQueue.Arn"
    }
    env = resources["PrivacyDeletionFunction"]["Properties"]["Environment"]["Variables"]
    assert env["TTS_PRIVACY_DEADLINE_SECONDS"] == str(7 * 86_400)
    assert env["TTS_PRIVACY_DEAUTHORIZATION_GRACE_SECONDS"] == str(30 * 86_400)
    assert env["TTS_PRIVACY_RETENTION_SECONDS"] == str(90 * 86_400)
    assert int(env["TTS_PRIVACY_LEASE_SECONDS"]) > timeout
    # The key comes from Secrets Manager, generated at deploy: never a value in the template.
    assert env["PRIVACY_PSEUDONYM_KEY_SECRET_ARN"] == {"Ref": "PrivacyPseudonymKeySecret"}
    secret = resources["PrivacyPseudonymKeySecret"]["Properties"]
    assert "SecretString" not in secret and "GenerateSecretString" in secret
