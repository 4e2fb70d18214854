"""Tracing costs its import only where it is on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tts_sync.observability import NoTracingProvider, tracer

REPO = Path(__file__).resolve().parents[2]


def _modules_after_import(app: str, **env: str) -> set[str]:
    code = (
        "import sys, importlib.util; sys.path.insert(0, {folder!r}); "
        "spec = importlib.util.spec_from_file_location('app', {path!r}); "
        "spec.loader.exec_module(importlib.util.module_from_spec(spec)); "
        "print('\\n'.join(sys.modules))"
    ).format(folder=str(REPO / "functions" / app), path=str(REPO / "functions" / app / "app.py"))
    environment = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**environment, "AWS_DEFAULT_REGION": "us-east-1", **env},
    )
    return set(result.stdout.split())


@pytest.mark.parametrize("app", ["webhook", "event_router"])
def test_with_tracing_off_the_xray_sdk_is_never_loaded(app):
    assert "aws_xray_sdk.core" not in _modules_after_import(app, POWERTOOLS_TRACE_DISABLED="true")


def test_in_a_lambda_runtime_with_tracing_on_the_xray_recorder_is_used():
    modules = _modules_after_import("webhook", LAMBDA_TASK_ROOT=str(REPO))
    assert "aws_xray_sdk.core" in modules


def test_the_webhook_does_not_load_every_powertools_event_class():
    modules = _modules_after_import("webhook", POWERTOOLS_TRACE_DISABLED="true")
    assert "aws_lambda_powertools.utilities.data_classes" not in modules


def test_decorated_handlers_still_run_and_return_with_tracing_off():
    assert isinstance(tracer.provider, NoTracingProvider)

    @tracer.capture_lambda_handler
    def handler(event, context):
        tracer.put_annotation("shop_id", "1")
        return {"seen": event["n"]}

    @tracer.capture_method
    def inner(value):
        return value * 2

    assert handler({"n": 3}, None) == {"seen": 3}
    assert inner(4) == 8
