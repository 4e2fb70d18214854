"""Fixtures for the TikTok client against the sandbox over loopback, and a webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tts_local.sandbox import DemoData, Sandbox
from tts_sync.tiktok import ShopAccess, TikTokApiConfig, TikTokClient
from tts_sync.tiktok.retry import Deadline

APP_KEY = "6d4sandboxkey"
APP_SECRET = "sandbox-secret-0123456789abcdef"


@dataclass
class FakeSleep:
    """Records sleeps instead of sleeping; `deadline(budget)` runs on this virtual time."""

    sleeps: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    @property
    def elapsed(self) -> float:
        return sum(self.sleeps)

    def deadline(self, budget: float) -> Deadline:
        return lambda: budget - self.elapsed


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(APP_KEY, APP_SECRET, port=0) as running:
        yield running


@pytest.fixture
def demo(sandbox: Sandbox) -> DemoData:
    return sandbox.seed_demo_data()


@pytest.fixture
def shop(demo: DemoData) -> ShopAccess:
    return ShopAccess(demo.shop.id, demo.shop.cipher, demo.grant.access_token)


class Receiver:
    """A loopback endpoint that records deliveries and answers like our webhook should."""

    def __init__(self, app_key: str, app_secret: str) -> None:
        self.received: list[tuple[str, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                signature = self.headers.get("Authorization", "")
                receiver.received.append((signature, body))
                expected = hmac.new(
                    app_secret.encode(), app_key.encode() + body, hashlib.sha256
                ).hexdigest()
                ok = hmac.compare_digest(signature.encode(), expected.encode())
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/tiktok"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def envelopes(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver(sandbox: Sandbox) -> Iterator[Receiver]:
    running = Receiver(sandbox.app_key, sandbox.app_secret)
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


ClientFactory = Callable[..., TikTokClient]


@pytest.fixture
def make_client(sandbox: Sandbox, fake_sleep: FakeSleep) -> Iterator[ClientFactory]:
    clients: list[TikTokClient] = []

    def build(**overrides: Any) -> TikTokClient:
        config_fields = {
            "api_base_url": sandbox.url,
            "auth_base_url": sandbox.url,
            "read_timeout": 0.5,
            "connect_timeout": 0.5,
            **overrides.pop("config", {}),
        }
        options: dict[str, Any] = {"sleep": fake_sleep, "random": lambda: 0.5, **overrides}
        client = TikTokClient(
            APP_KEY, APP_SECRET, config=TikTokApiConfig(**config_fields), **options
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> TikTokClient:
    return make_client()
