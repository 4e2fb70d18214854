"""`tts-sync webhook send` signing and file handling, against a loopback HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tts_local.webhook_sender import WebhookFileError, read_body, send_file


@pytest.fixture
def receiver():
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/webhooks/tiktok", received
    server.shutdown()
    server.server_close()  # shutdown() only stops the loop; this releases the listening socket


def test_sends_signed_body_with_a_fresh_timestamp(tmp_path, receiver):
    url, received = receiver
    sample = tmp_path / "event.json"
    sample.write_text(json.dumps({"type": 1, "shop_id": "1", "timestamp": 1, "data": {}}))
    assert send_file(sample, url, "key", "secret") == (200, "")
    (headers, body) = received[0]
    expected = hmac.new(b"secret", b"key" + body, hashlib.sha256).hexdigest()
    assert headers["authorization"] == expected
    assert abs(json.loads(body)["timestamp"] - time.time()) < 5


def test_keep_timestamp_sends_the_exact_file_bytes(tmp_path, receiver):
    url, received = receiver
    raw = b'{ "type": 1,\n  "timestamp": 1 }'
    sample = tmp_path / "event.json"
    sample.write_bytes(raw)
    send_file(sample, url, "key", "secret", keep_timestamp=True)
    assert received[0][1] == raw


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"{oops", "not JSON"), (b"[]", "not a JSON object")],
)
def test_unusable_files_get_a_clear_error(tmp_path, content, message):
    sample = tmp_path / "event.json"
    if content is not None:
        sample.write_bytes(content)
    with pytest.raises(WebhookFileError, match=message):
        read_body(sample)
