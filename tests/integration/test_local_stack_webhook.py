"""End to end through the local stack over HTTP: the real template.yaml, the real webhook
function in its worker, API Gateway-shaped events, DynamoDB in moto."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tts_local.cli import _store_app_credentials
from tts_local.demo import run_demo
from tts_local.sandbox import Sandbox
from tts_local.stack import LocalStack
from tts_local.webhook_sender import post_signed, sign_body

TEMPLATE = Path(__file__).parents[2] / "template.yaml"
APP_KEY, APP_SECRET = "e2e-key", "e2e-secret"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(APP_KEY, APP_SECRET, port=0) as sandbox:
        sandbox.seed_demo_data()
        yield sandbox


@pytest.fixture(scope="module")
def stack(sandbox: Sandbox) -> Iterator[LocalStack]:
    # What `tts-sync local` does: the functions call the sandbox instead of TikTok.
    tiktok = {
        "TTS_API_BASE_URL": sandbox.url,
        "TTS_AUTH_BASE_URL": sandbox.url,
        "TTS_AUTHORIZE_URL": sandbox.url + sandbox.authorize_path,
    }
    with LocalStack(TEMPLATE, port=0, function_env_overrides=tiktok) as stack:
        _store_app_credentials(stack, APP_KEY, APP_SECRET)
        yield stack


@pytest.fixture(scope="module")
def webhook_url(stack: LocalStack) -> str:
    return stack.api_url + "/webhooks/tiktok"


def _body(notification_id: str) -> bytes:
    document = {
        "type": 1,
        "tts_notification_id": notification_id,
        "shop_id": "7494049642642441621",
        "timestamp": int(time.time()),
        "data": {"order_id": "5764", "order_status": "AWAITING_SHIPMENT", "update_time": 1},
    }
    return json.dumps(document).encode()


def _listing_status_body(notification_id: str, product_id: str, update_time: int) -> bytes:
    """A product status change (type 5): the router records it, no TikTok call needed."""
    document = {
        "type": 5,
        "tts_notification_id": notification_id,
        "shop_id": "7494049642642441621",
        "timestamp": int(time.time()),
        "data": {"product_id": product_id, "status": "ACTIVATE", "update_time": update_time},
    }
    return json.dumps(document).encode()


def _stored(stack: LocalStack, key: str) -> dict | None:
    return (
        stack.client("dynamodb")
        .get_item(
            TableName=stack.physical_id("EventsTable"), Key={"pk": {"S": key}}, ConsistentRead=True
        )
        .get("Item")
    )


def test_signed_delivery_is_stored_and_acknowledged_with_an_empty_body(stack, webhook_url):
    # The module's first request: READY (start() returning) means every worker finished its
    # init, so even the first delivery is answered within TikTok's 3 s budget.
    assert {worker.state for worker in stack.workers.values()} == {"ready"}
    body = _body("e2e-1")
    started = time.monotonic()
    response = post_signed(webhook_url, body, APP_KEY, APP_SECRET, timeout=30)
    assert time.monotonic() - started < 3
    assert (response.status_code, response.text) == (200, "")
    item = _stored(stack, "e2e-1")
    assert item is not None and item["payload"]["S"].encode() == body


def test_binary_content_type_arrives_base64_and_still_verifies(stack, webhook_url):
    body = _body("e2e-binary")
    headers = {
        "content-type": "application/octet-stream",
        "authorization": sign_body(APP_KEY, APP_SECRET, body),
    }
    response = httpx.post(webhook_url, content=body, headers=headers, timeout=30)
    assert response.status_code == 200
    assert _stored(stack, "e2e-binary")["payload"]["S"].encode() == body


def test_forged_and_oversized_deliveries_are_refused(stack, webhook_url):
    forged = post_signed(webhook_url, _body("e2e-forged"), APP_KEY, "wrong", timeout=30)
    assert (forged.status_code, forged.text) == (401, "")
    assert _stored(stack, "e2e-forged") is None
    huge = b'{"x": "' + b"y" * (300 * 1024) + b'"}'
    assert post_signed(webhook_url, huge, APP_KEY, APP_SECRET, timeout=30).status_code == 413


def test_demo_connects_the_shop_and_gets_every_expected_answer(stack, sandbox):
    ready = {**stack.ready_info, "sandbox_url": sandbox.url}
    lines: list[str] = []
    assert run_demo(ready, APP_KEY, APP_SECRET, out=lines.append) == 0, "\n".join(lines)
    output = "\n".join(lines)
    assert "200 /oauth/tiktok/callback" in output
    assert "webhooks 10/10 subscribed" in output
    assert "is now deauthorized, tokens deleted: True" in output  # stream -> TokenRefresh
    # The order-sync act: what webhooks missed, the poll recovered; one creation per order.
    # Two orders were never notified and one cancellation was held back; a stream retry may
    # re-read that cancelled order before the poll does, so the poll recovers 2 or 3 - and
    # always exactly the records still behind the sandbox.
    recovered = re.search(
        r"(\d+) missed by webhooks and recovered \(records behind the sandbox: (\d+)\)", output
    )
    assert recovered is not None, output
    assert recovered[1] == recovered[2] and int(recovered[1]) in (2, 3), recovered[0]
    assert "Order Created             20" in output
    # The privacy act: one buyer deletion through PrivacyDeletionQueue, with its receipt.
    assert re.search(
        r"receipt dsr-demo-\w+: completed; erased EventsTable \d+, OrdersTable 1", output
    )
    assert "buyer data erased, user id pseudonymised" in output
    assert re.search(r"receipt dsr-demo-invalid-\w+: rejected \(buyer\.order_ids\.0: ", output)
    # The stock act: levels through QuantityExportQueue into the sandbox (the act checks what
    # TikTok holds against the ledger, the coalescing and the suppression itself).
    assert "MUG-TRAVEL in the catalog map" in output  # PRODUCT_CREATION -> catalog map
    assert "return warehouse" in output and "-> 0 inventory calls" in output
    assert "not in the catalog map" in output and "'WH-MARS' is not mapped" in output
    assert "available" in output.split("refused, and why")[1]  # the negative level
    assert "all as expected" in output


def test_ops_redrive_works_against_the_local_stack_through_its_ready_info(stack, capsys):
    from tts_local.cli import main

    resources = stack.ready_info["resources"]
    sqs = stack.client("sqs")
    body = json.dumps({"detail-type": "Order Created", "redrive-test": True})
    sqs.send_message(QueueUrl=resources["OutboundEventsDeadLetterQueue"], MessageBody=body)
    api = stack.ready_info["api_url"]
    command = ["ops", "redrive", "--local", api, "--queue", "OutboundEventsDeadLetterQueue"]

    assert main(command) == 0
    dry = capsys.readouterr().out
    assert "OutboundEventsDeadLetterQueue: 1 waiting, would move 1" in dry
    assert "nothing moved" in dry

    assert main([*command, "--move"]) == 0
    assert "moved 1" in capsys.readouterr().out
    found = []
    deadline = time.monotonic() + 10
    while body not in found and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=resources["OutboundEventsQueue"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            if message["Body"] == body:
                sqs.delete_message(
                    QueueUrl=resources["OutboundEventsQueue"],
                    ReceiptHandle=message["ReceiptHandle"],
                )
                found.append(body)
    assert found == [body]


def test_ops_replay_sends_stored_events_through_the_router_of_the_local_stack(
    stack, webhook_url, capsys
):
    from tts_local.cli import main

    api = stack.ready_info["api_url"]
    body = _listing_status_body("e2e-replay-listing", "1729582718312380001", update_time=5)
    assert post_signed(webhook_url, body, APP_KEY, APP_SECRET, timeout=30).status_code == 200
    selection = ["--local", api, "--type", "PRODUCT_STATUS_CHANGE"]
    assert main(["ops", "replay", *selection, "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "1 stored events match" in dry and "nothing replayed" in dry
    assert main(["ops", "replay", *selection]) == 0
    out = capsys.readouterr().out
    assert "1 stored events replayed through EventRouterFunction (1 sent, 0 not processed)" in out


def test_ops_replay_quarantine_stores_what_the_fix_accepts_on_the_local_stack(
    stack, webhook_url, capsys
):
    from datetime import UTC, datetime

    from tts_local.cli import main
    from tts_sync.webhooks.dynamo_store import DynamoEventStore
    from tts_sync.webhooks.intake import QuarantinedDelivery

    # A signed delivery the intake refuses today: it stays quarantined after the replay.
    refused = b'{"type": 1, "shop_id": "7494049642642441621", "timestamp": "soon", "data": {}}'
    assert post_signed(webhook_url, refused, APP_KEY, APP_SECRET, timeout=30).status_code == 200
    # One an older release quarantined and this one accepts.
    dynamodb = stack.client("dynamodb")
    quarantine = stack.physical_id("QuarantineTable")
    store = DynamoEventStore(dynamodb, stack.physical_id("EventsTable"), quarantine)
    store.quarantine(
        QuarantinedDelivery(_body("e2e-quarantine-fixed"), "an old reason", datetime.now(UTC))
    )
    api = stack.ready_info["api_url"]

    # (the demo's act, earlier in this module, may have quarantined bodies of its own)
    assert main(["ops", "replay-quarantine", "--local", api]) == 1  # some still fail
    out = capsys.readouterr().out
    assert ": 1 stored, 0 already stored" in out and "timestamp" in out
    assert _stored(stack, "e2e-quarantine-fixed") is not None
    kept = {
        bytes(item["raw_body"]["B"])
        for item in dynamodb.scan(TableName=quarantine, ConsistentRead=True)["Items"]
    }
    assert refused in kept and _body("e2e-quarantine-fixed") not in kept


def test_the_ops_function_replays_through_the_router_over_lambdas_invoke_api(stack, webhook_url):
    """OpsFunction's own boto3 Lambda client reaches EventRouterFunction through the stack's
    Invoke REST path (AWS_ENDPOINT_URL_LAMBDA); so does an operator's `aws lambda invoke`."""
    import boto3
    from botocore.config import Config

    body = _listing_status_body("e2e-ops-function-listing", "1729582718312380002", update_time=6)
    assert post_signed(webhook_url, body, APP_KEY, APP_SECRET, timeout=30).status_code == 200
    lambda_api = boto3.client("lambda", endpoint_url=stack.api_url, config=Config(read_timeout=120))
    name = stack.physical_id("OpsFunction")

    def invoke(event: dict) -> tuple[str | None, dict]:
        response = lambda_api.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        return response.get("FunctionError"), json.loads(response["Payload"].read())

    error, answer = invoke({"job": "replay", "types": ["PRODUCT_STATUS_CHANGE"]})
    assert error is None, answer
    assert answer["complete"] is True and answer["failed"] == []
    assert answer["sent"] >= 1 and answer["sent"] == answer["matched"]

    error, answer = invoke({"job": "replay", "since": "yesterday"})
    assert error == "Unhandled"
    assert answer["errorType"] == "InvalidOpsEventError" and "since:" in answer["errorMessage"]
