"""Opt-in checks against a deployed stack: set TTS_E2E_URL (the WebhookUrl output) and the app
credentials TTS_E2E_APP_KEY / TTS_E2E_APP_SECRET. Skipped everywhere else, CI included."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from tts_local.webhook_sender import post_signed

URL = os.environ.get("TTS_E2E_URL")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not URL, reason="TTS_E2E_URL not set: no deployed stack to test"),
]


def _body() -> bytes:
    document = {
        "type": 1,
        "tts_notification_id": f"e2e-{uuid.uuid4()}",
        "shop_id": "e2e-shop",
        "timestamp": int(time.time()),
        "data": {"order_id": "e2e-order", "order_status": "UNPAID", "update_time": 1},
    }
    return json.dumps(document).encode()


def test_deployed_webhook_acknowledges_signed_and_refuses_forged():
    key, secret = os.environ["TTS_E2E_APP_KEY"], os.environ["TTS_E2E_APP_SECRET"]
    body = _body()
    signed = post_signed(URL, body, key, secret, timeout=10)
    assert (signed.status_code, signed.text) == (200, "")
    forged = post_signed(URL, body, key, secret, timeout=10, authorization="0" * 64)
    assert (forged.status_code, forged.text) == (401, "")
