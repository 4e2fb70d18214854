"""The tracking upload function's console events are jobs it accepts (anything else is refused
saying what is expected), and template.yaml wires queue, DLQ, table and function as the issue
asks (partial batch failures, visibility >= 6x timeout, >= 5 receives, SSE, scoped IAM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import REPO_ROOT, template_resources
from tts_sync.fulfilment.jobs import (
    JOB_NAMES,
    InvalidFulfilmentJobError,
    SetCarrierOverride,
    parse_fulfilment_job,
)

CONSOLE_EVENTS = Path(REPO_ROOT) / "events" / "console"


def test_every_tracking_upload_console_event_is_a_valid_job() -> None:
    files = sorted(CONSOLE_EVENTS.glob("tracking_upload_*.json"))
    jobs = {f.name: parse_fulfilment_job(json.loads(f.read_text())) for f in files}
    assert {job.job for job in jobs.values()} == set(JOB_NAMES)
    override = jobs["tracking_upload_carrier_override.json"]
    assert isinstance(override, SetCarrierOverride) and override.shipping_provider == "UPS"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "job"),
        ({"job": "carriers"}, "carriers.shop_id: Field required"),
        ({"job": "explode", "shop_id": "1"}, "does not match any of the expected tags"),
        ({"job": "carrier_override", "shop_id": "1", "carrier": "UPS"}, "shipping_provider"),
    ],
)
def test_other_events_are_refused_with_the_reason(event: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidFulfilmentJobError) as caught:
        parse_fulfilment_job(event)
    assert reason in str(caught.value) and "expected an SQS batch or a job" in str(caught.value)


def test_template_wires_the_queue_dlq_table_and_function() -> None:
    resources = template_resources()
    queue = resources["TrackingUploadQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": "TrackingUploadDeadLetterQueue.Arn"
    }
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 5
    assert queue["SqsManagedSseEnabled"] is True
    assert resources["TrackingUploadDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"]
    function = resources["TrackingUploadFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    lease = float(function["Environment"]["Variables"]["TTS_UPLOAD_LEASE_SECONDS"])
    assert function["Timeout"] < lease < queue["VisibilityTimeout"]  # see upload.py
    sqs = function["Events"]["Shipments"]["Properties"]
    assert sqs["Queue"] == {"Fn::GetAtt": "TrackingUploadQueue.Arn"}
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert function["CodeUri"] == "functions/tracking_upload/"
    assert (REPO_ROOT / "functions" / "tracking_upload" / "app.py").is_file()
    table = resources["FulfilmentTable"]["Properties"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["shop_id", "fulfilment_key"]
    statements = function["Policies"][0]["Statement"]
    assert all(s["Resource"] != "*" for s in statements)
    visibility = next(s for s in statements if s["Sid"] == "WaitOutOnHoldOrders")
    assert visibility["Resource"] == {"Fn::GetAtt": "TrackingUploadQueue.Arn"}
