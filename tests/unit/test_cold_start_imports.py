"""What a function's cold import leaves out: checked by module, not timed (see bench_cold_start)."""

from __future__ import annotations

from tests.unit.test_observability import _modules_after_import
from tts_sync.aws import dynamodb_client, reset_clients, sqs_client


def test_the_webhook_creates_its_client_without_loading_boto3_or_s3transfer():
    modules = _modules_after_import("webhook", POWERTOOLS_TRACE_DISABLED="true")
    assert "botocore.session" in modules
    assert not {"boto3", "s3transfer"} & {name.split(".")[0] for name in modules}


def test_botocore_clients_keep_the_endpoint_override_and_the_fast_budget(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    reset_clients()
    try:
        fast, default, queue = dynamodb_client(fast=True), dynamodb_client(), sqs_client()
        assert fast is dynamodb_client(fast=True)  # one per container, not per call
        assert fast.meta.endpoint_url == queue.meta.endpoint_url == "http://127.0.0.1:4566"
        assert fast.meta.region_name == "eu-west-1"
        assert (fast.meta.config.connect_timeout, fast.meta.config.read_timeout) == (0.5, 0.8)
        assert fast.meta.config.retries["total_max_attempts"] == 2
        assert default.meta.config.read_timeout == 60
        assert default.meta.config.retries["mode"] == "standard"
    finally:
        reset_clients()


def test_the_ops_function_loads_neither_the_tiktok_client_nor_boto3():
    # It never calls TikTok: its deadline comes from tts_sync.deadline, not tiktok.retry.
    modules = _modules_after_import("ops", POWERTOOLS_TRACE_DISABLED="true")
    assert "tts_sync.ops.jobs" in modules
    assert not {"tts_sync.tiktok", "httpx", "boto3"} & modules
