"""Shared fixtures. Integration tests talk to a real moto server over HTTP (the AWS wire
protocol), never to AWS: credentials are fake and every client points at the loopback server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Re-exported: tests import these helpers from here or from tests.support.
from tests.support import (
    REPO_ROOT,
    FakeLambdaContext,
    free_port,
    http_api_event,
    load_function,
)

__all__ = ["REPO_ROOT", "FakeLambdaContext", "free_port", "http_api_event", "load_function"]

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


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on loopback for the whole session; yields its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    from tts_local.stack.moto_atomic import serialize_dynamodb_writes

    serialize_dynamodb_writes()  # DynamoDB's per-item atomicity under concurrent requests
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
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


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def fresh_metrics() -> Iterator[None]:
    """Domain code adds metrics that only a handler flushes: none may leak between tests."""
    from tts_sync.observability import metrics

    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
