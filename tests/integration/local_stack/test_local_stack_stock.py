"""The demo's stock act on the real template.yaml in the local stack, against the sandbox: the
demo shop connected through the OAuth routes; the catalog map and warehouse mapping through
QuantityExportFunction's console jobs; a PRODUCT_CREATION webhook through the Events stream
into EventRouterFunction's product refresh; levels through QuantityExportQueue's SQS mapping
into the sandbox. The act checks what TikTok holds against the ledger, the coalescing, the
suppression and the refusals itself; this test reads its summary."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import REPO_ROOT
from tts_local.cli import _store_app_credentials
from tts_local.demo import connect_sandbox_shop
from tts_local.demo_stock import run_stock_act
from tts_local.sandbox import Sandbox
from tts_local.sandbox.seed import DEMO_SHOP_ID
from tts_local.stack import LocalStack, StackSettings

APP_KEY, APP_SECRET = "stock-e2e-key", "stock-e2e-secret"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(APP_KEY, APP_SECRET, port=0) as running:
        running.seed_demo_data()
        yield running


@pytest.mark.timeout(300)
def test_the_demo_stock_act_pushes_levels_through_the_queue_into_the_sandbox(
    sandbox: Sandbox,
) -> None:
    tiktok = {
        "TTS_API_BASE_URL": sandbox.url,
        "TTS_AUTH_BASE_URL": sandbox.url,
        "TTS_AUTHORIZE_URL": sandbox.url + sandbox.authorize_path,
    }
    settings = StackSettings(sqs_wait_seconds=1, stream_poll_seconds=0.2)
    with (
        pytest.MonkeyPatch.context() as patch,
        LocalStack(
            REPO_ROOT / "template.yaml", port=0, settings=settings, function_env_overrides=tiktok
        ) as stack,
    ):
        patch.setattr("tts_local.stack.functions.INIT_TIMEOUT_SECONDS", 40.0)
        _store_app_credentials(stack, APP_KEY, APP_SECRET)
        ready = {**stack.ready_info, "sandbox_url": sandbox.url}
        lines: list[str] = []
        with httpx.Client(timeout=30) as client:
            assert connect_sandbox_shop(ready, client, stack.client("dynamodb"), lines.append) == 0
            failures = run_stock_act(ready, DEMO_SHOP_ID, stack.client("sqs"), client, lines.append)
    output = "\n".join(lines)
    assert failures == 0, output
    assert "WH-RETURNS" in output and "return warehouse" in output
    assert "MUG-TRAVEL in the catalog map" in output
    assert "TikTok was sent [26]" in output and "-> 0 inventory calls" in output
    assert "not in the catalog map" in output and "'WH-MARS' is not mapped" in output
    assert "available" in output.split("refused, and why")[1]  # the negative level
