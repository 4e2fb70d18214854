"""`tts-sync local` as users run it: a subprocess that prints one READY line and stops on a
signal with exit code 0; plus the flag validation of both subcommands."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import httpx
import pytest

from tts_local.cli import build_parser

FIXTURE_TEMPLATE = Path(__file__).parents[2] / "fixtures" / "local_stack" / "template.yaml"
CLI = [sys.executable, "-m", "tts_local.cli"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_local_prints_ready_then_stops_cleanly(sig: signal.Signals) -> None:
    env = {**os.environ, "TTS_APP_KEY": "key-from-env", "TTS_APP_SECRET": "secret-from-env"}
    process = subprocess.Popen(
        [
            *CLI,
            "local",
            "--port",
            "0",
            "--template",
            str(FIXTURE_TEMPLATE),
            "--parameter-overrides",
            "Stage=prod",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("READY "), line
        ready = json.loads(line.removeprefix("READY "))
        assert ready["api_url"].startswith("http://127.0.0.1:")
        assert ready["aws_endpoint_url"].startswith("http://127.0.0.1:")
        resources = ready["resources"]
        assert resources["HttpApi"] == ready["api_url"]
        assert resources["WorkQueue"].startswith(ready["aws_endpoint_url"])
        assert "-EchoFunction-" in resources["EchoFunction"]

        secrets = boto3.client("secretsmanager", endpoint_url=ready["aws_endpoint_url"])
        secret = secrets.get_secret_value(SecretId=resources["AppCredentialsSecret"])
        assert json.loads(secret["SecretString"]) == {
            "app_key": "key-from-env",
            "app_secret": "secret-from-env",
        }
        assert "/prod/" in secret["Name"]  # the override reached the template

        # The built-in TikTok Shop sandbox runs, seeded with the demo shop.
        sandbox_state = httpx.get(ready["sandbox_url"] + "/_admin/state", timeout=5).json()
        assert [shop["id"] for shop in sandbox_state["shops"]] == ["7494049642642441621"]
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_bad_port_is_rejected_precisely() -> None:
    result = _run("local", "--port", "70000")
    assert result.returncode == 2
    assert "argument --port: port must be between 0 and 65535, got 70000" in result.stderr


def test_busy_port_is_reported_without_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("local", "--port", str(port), "--template", str(FIXTURE_TEMPLATE))
    assert result.returncode == 1
    assert f"cannot listen on port {port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "READY" not in result.stdout


def test_missing_template_is_rejected_precisely(tmp_path: Path) -> None:
    result = _run("local", "--template", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert f"argument --template: no such file: {tmp_path / 'nope.yaml'}" in result.stderr


def test_webhook_send_with_missing_file_exits_2(tmp_path: Path) -> None:
    result = _run("webhook", "send", str(tmp_path / "missing.json"), "--url", "http://127.0.0.1:9/")
    assert result.returncode == 2
    assert "is not a readable file" in result.stderr


def test_external_api_flags_replace_the_sandbox(tmp_path: Path) -> None:
    from tts_local.cli import _tiktok_api

    args = build_parser().parse_args(
        ["local", "--template", str(FIXTURE_TEMPLATE), "--api-base-url", "https://api.example/"]
    )
    sandbox, env = _tiktok_api(args, "key", "secret")
    assert sandbox is None
    assert env == {
        "TTS_API_BASE_URL": "https://api.example",
        "TTS_AUTH_BASE_URL": "https://auth.tiktok-shops.com",
    }


def test_external_api_runs_without_a_sandbox() -> None:
    process = subprocess.Popen(
        [
            *CLI,
            "local",
            "--port",
            "0",
            "--template",
            str(FIXTURE_TEMPLATE),
            "--api-base-url",
            "http://127.0.0.1:9",
            "--auth-base-url",
            "http://127.0.0.1:9",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert json.loads(line.removeprefix("READY "))["sandbox_url"] is None
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr


@pytest.mark.parametrize("url", ["ftp://x", "not a url", "http://"])
def test_bad_api_base_url_is_rejected_precisely(url: str) -> None:
    result = _run("local", "--api-base-url", url)
    assert result.returncode == 2
    assert "expected an http(s) URL" in result.stderr
