"""Tracing costs its import only where it is on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tts_sync.observability import NoTracingProvider, tracer

REPO = Path(__file__).resolve().parents[2]


def after_cold_import(app: str, then: str, *, before: str = "", **env: str) -> str:
    """Runs `before`, imports functions/<app>/app.py, then runs `then`, in a fresh interpreter
    (a cold start) with these environment variables; what it printed."""
    folder, path = REPO / "functions" / app, REPO / "functions" / app / "app.py"
    code = (
        f"import sys, importlib.util; sys.path.insert(0, {str(folder)!r}); "
        f"spec = importlib.util.spec_from_file_location('app', {str(path)!r})\n"
        f"{before}\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        f"{then}"
    )
    environment = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**environment, "AWS_DEFAULT_REGION": "us-east-1", **env},
    )
    return result.stdout


def _modules_after_import(app: str, **env: str) -> set[str]:
    return set(after_cold_import(app, "print('\\n'.join(sys.modules))", **env).split())


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
