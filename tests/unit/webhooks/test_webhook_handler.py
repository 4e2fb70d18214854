"""The webhook Lambda end to end through its entry point, with in-memory ports injected."""

import json
from collections.abc import Iterator

import pytest

from tests.support import http_api_event, load_function
from tts_sync.errors import CredentialsUnavailableError
from tts_sync.observability import logger
from tts_sync.webhooks.http import IntakeDependencies, override_dependencies
from tts_sync.webhooks.intake import MAX_BODY_BYTES
from tts_sync.webhooks.memory_store import InMemoryEventStore, StaticCredentials
from tts_sync.webhooks.signature import sign

APP_KEY, SECRET = "app-key", "app-secret"
PII = "Jane Buyer, 221B Baker Street"


@pytest.fixture
def store() -> Iterator[InMemoryEventStore]:
    store = InMemoryEventStore()
    override_dependencies(IntakeDependencies(store, StaticCredentials(APP_KEY, SECRET)))
    yield store
    override_dependencies(None)


@pytest.fixture
def debug_logging() -> Iterator[None]:
    """Dev stages log at DEBUG: a leak at any level must fail the PII tests."""
    previous = logger.log_level
    logger.setLevel("DEBUG")
    yield
    logger.setLevel(previous)


@pytest.fixture
def handler():
    return load_function("webhook").lambda_handler


def fresh_body(notification_id="n-1", **data) -> bytes:
    import time

    document = {
        "type": 1,
        "tts_notification_id": notification_id,
        "shop_id": "7494",
        "timestamp": int(time.time()),
        "data": {"order_id": "5764", "order_status": "UNPAID", "update_time": 1, **data},
    }
    return json.dumps(document).encode()


def post(handler, context, body, authorization="sign", base64_body=False):
    headers = {"Content-Type": "application/json"}
    if authorization == "sign":
        authorization = sign(APP_KEY, body, SECRET.encode())
    if authorization is not None:
        headers["Authorization"] = authorization
    event = http_api_event("POST", "/webhooks/tiktok", body, headers, base64_body)
    return handler(event, context)


def emitted_metrics(output: str) -> set[str]:
    names = set()
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                names.update(metric["Name"] for metric in directive["Metrics"])
    return names


def test_valid_delivery_gets_200_with_empty_body_and_is_stored(
    handler, lambda_context, store, capsys
):
    response = post(handler, lambda_context, fresh_body())
    assert response == {"statusCode": 200, "body": ""}
    assert list(store.events) == ["n-1"]
    assert emitted_metrics(capsys.readouterr().out) == {"WebhookStored"}


def test_base64_body_is_decoded_before_verification(handler, lambda_context, store):
    body = fresh_body()
    assert post(handler, lambda_context, body, base64_body=True)["statusCode"] == 200
    assert store.events["n-1"].payload.encode() == body


def test_duplicate_gets_200_and_one_event(handler, lambda_context, store, capsys):
    body = fresh_body()
    post(handler, lambda_context, body)
    assert post(handler, lambda_context, body)["statusCode"] == 200
    assert len(store.events) == 1
    assert "WebhookDuplicate" in emitted_metrics(capsys.readouterr().out)


@pytest.mark.parametrize("authorization", [None, "Bearer x", "ä" * 64, "0" * 64, "0" * 10])
def test_bad_signature_gets_401_empty_nothing_stored(
    handler, lambda_context, store, capsys, authorization
):
    response = post(handler, lambda_context, fresh_body(), authorization=authorization)
    assert response == {"statusCode": 401, "body": ""}
    assert store.write_attempts == 0
    assert emitted_metrics(capsys.readouterr().out) == {"WebhookUnauthorized"}


def test_oversized_body_gets_413_text_and_base64(handler, lambda_context, store):
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    assert post(handler, lambda_context, big, authorization="x")["statusCode"] == 413
    assert (
        post(handler, lambda_context, big, authorization="x", base64_body=True)["statusCode"] == 413
    )
    assert store.write_attempts == 0


def test_multibyte_text_over_the_cap_in_bytes_gets_413(handler, lambda_context, store):
    body = ("é" * (MAX_BODY_BYTES // 2 + 1)).encode()
    assert len(body.decode()) < MAX_BODY_BYTES < len(body)
    assert post(handler, lambda_context, body, authorization="x")["statusCode"] == 413


def test_invalid_base64_gets_400(handler, lambda_context, store):
    event = http_api_event("POST", "/webhooks/tiktok", b"x", {"authorization": "a" * 64})
    event.update(body="not*base64", isBase64Encoded=True)
    assert handler(event, lambda_context)["statusCode"] == 400


def test_invalid_body_quarantined_with_200_and_body_never_logged(
    handler, lambda_context, store, capsys, debug_logging
):
    body = json.dumps({"type": 1, "shop_id": "7494", "data": {"address": PII}}).encode()
    assert post(handler, lambda_context, body)["statusCode"] == 200
    assert store.quarantined[0].raw_body == body
    output = capsys.readouterr().out
    assert PII not in output
    assert "WebhookQuarantined" in emitted_metrics(output)


def test_stored_event_body_is_never_logged(handler, lambda_context, store, capsys, debug_logging):
    post(handler, lambda_context, fresh_body(buyer_message=PII))
    assert PII not in capsys.readouterr().out


def test_storage_failure_gets_503_so_tiktok_retries(handler, lambda_context, store, capsys):
    store.unavailable = True
    response = post(handler, lambda_context, fresh_body())
    assert response["statusCode"] == 503
    assert emitted_metrics(capsys.readouterr().out) == {"WebhookStorageFailed"}


def test_stale_replay_gets_200_not_stored(handler, lambda_context, store, capsys):
    document = json.loads(fresh_body())
    document["timestamp"] -= 49 * 3600
    response = post(handler, lambda_context, json.dumps(document).encode())
    assert response["statusCode"] == 200
    assert store.events == {}
    assert emitted_metrics(capsys.readouterr().out) == {"WebhookStale"}


def test_empty_body_with_valid_signature_is_quarantined(handler, lambda_context, store):
    event = http_api_event(
        "POST", "/webhooks/tiktok", None, {"authorization": sign(APP_KEY, b"", SECRET.encode())}
    )
    assert handler(event, lambda_context)["statusCode"] == 200
    assert store.quarantined[0].raw_body == b""


def test_raw_bytes_survive_base64_when_not_utf8(handler, lambda_context, store):
    body = b'{"type": 1, "note": "\xff"}'
    response = post(handler, lambda_context, body, base64_body=True)
    assert response["statusCode"] == 200
    assert store.quarantined[0].raw_body == body


def test_unreadable_secret_gets_503_so_tiktok_retries(handler, lambda_context, capsys):
    class UnavailableCredentials:
        def get(self):
            raise CredentialsUnavailableError("GetParameterError")

        refresh = get

    store = InMemoryEventStore()
    override_dependencies(IntakeDependencies(store, UnavailableCredentials()))
    try:
        response = post(handler, lambda_context, fresh_body())
    finally:
        override_dependencies(None)
    assert response == {"statusCode": 503, "body": ""}
    assert store.write_attempts == 0
    assert emitted_metrics(capsys.readouterr().out) == {"WebhookCredentialsUnavailable"}
