"""The sandbox as a component: stop leaves no thread behind, reset is safe against requests in
flight, malformed Content-Length is a 400 (not a crash or a hang), one table of event types."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from tts_local.sandbox import Sandbox
from tts_local.sandbox.endpoints import WEBHOOK_EVENT_TYPES
from tts_local.sandbox.server import SandboxServer
from tts_local.sandbox.webhooks import EVENT_TYPE_NUMBERS
from tts_sync.events import BY_NUMBER


def test_stop_joins_the_server_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    original = SandboxServer.serve_forever

    def slow_to_exit(self: SandboxServer, poll_interval: float = 0.5) -> None:
        original(self, poll_interval)
        time.sleep(0.3)  # the loop has ended, the thread has not

    monkeypatch.setattr(SandboxServer, "serve_forever", slow_to_exit)
    sandbox = Sandbox("app-key", "app-secret").start()
    thread = sandbox._thread
    assert thread is not None and thread.is_alive()
    sandbox.stop()
    assert not thread.is_alive()
    sandbox.stop()  # a second stop is harmless


def test_reset_swaps_the_state_under_its_lock(sandbox: Sandbox) -> None:
    sandbox.seed_shop("7001")
    lock = sandbox.state.lock
    finished = threading.Event()
    resetter = threading.Thread(target=lambda: (sandbox.reset(), finished.set()))
    with sandbox.state.lock:  # a request in flight holds the lock
        resetter.start()
        assert not finished.wait(0.3)  # reset waits for it ...
        assert "7001" in sandbox.state.shops  # ... and the request's state stays put
    resetter.join(timeout=10)
    assert finished.is_set()
    assert sandbox.state.shops == {}
    # Requests that took the lock before the swap read the new state under the same lock.
    assert sandbox.state.lock is lock


def raw_request(sandbox: Sandbox, content_length: str) -> tuple[int, dict[str, object]]:
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) as sock:
        sock.sendall(
            b"POST /_admin/requests HTTP/1.1\r\nHost: sandbox\r\n"
            b"Content-Length: " + content_length.encode() + b"\r\n\r\n{}"
        )
        reply = b""
        while chunk := sock.recv(65536):  # the server closes the connection after a 400
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "+2", " -5 "])
def test_malformed_content_length_is_a_400(sandbox: Sandbox, value: str) -> None:
    status, body = raw_request(sandbox, value)
    assert status == 400
    assert body["message"] == "invalid Content-Length"
    assert sandbox.requests() == []


def test_sandbox_event_types_agree_with_every_type_the_product_knows() -> None:
    # Two tables written from the docs independently: a number either side got wrong shows here.
    assert {EVENT_TYPE_NUMBERS[spec.name]: spec.name for spec in BY_NUMBER.values()} == {
        number: spec.name for number, spec in BY_NUMBER.items()
    }
    assert set(EVENT_TYPE_NUMBERS) == WEBHOOK_EVENT_TYPES
    assert EVENT_TYPE_NUMBERS["SKU_STATUS_CHANGE"] == 50
