"""Shared fixtures. Integration tests talk to a real moto server over HTTP (the AWS wire
protocol), never to AWS: credentials are fake and every client points at the loopback server."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

# No test may ever reach real AWS, whatever the developer's shell has configured.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "TtsSyncTest",
        "POWERTOOLS_SERVICE_NAME": "tests",
        "POWERTOOLS_DEV": "false",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on loopback for the whole session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Points boto3 (and our cached clients) at the moto server for one test."""
    from tts_sync.aws import reset_clients

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    reset_clients()
    yield moto_server
    reset_clients()
