"""The intake decision, driven with in-memory ports."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from tts_sync.errors import StorageUnavailableError
from tts_sync.webhooks.intake import MAX_BODY_BYTES, Outcome, accept_delivery
from tts_sync.webhooks.memory_store import InMemoryEventStore, StaticCredentials
from tts_sync.webhooks.signature import sign

APP_KEY, SECRET = "app-key", "app-secret"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def envelope_body(notification_id: str = "n-1", timestamp: datetime = NOW, **extra) -> bytes:
    document = {
        "type": 1,
        "tts_notification_id": notification_id,
        "shop_id": "7494",
        "timestamp": int(timestamp.timestamp()),
        "data": {"order_id": "5764", "order_status": "UNPAID", "update_time": 1},
        **extra,
    }
    return json.dumps(document).encode()


@pytest.fixture
def store():
    return InMemoryEventStore()


@pytest.fixture
def credentials():
    return StaticCredentials(APP_KEY, SECRET)


def deliver(body, store, credentials, authorization="sign", now=NOW):
    if authorization == "sign":
        authorization = sign(APP_KEY, body, SECRET.encode())
    return accept_delivery(body, authorization, store=store, credentials=credentials, now=now)


def test_valid_delivery_is_stored_once_with_its_exact_payload(store, credentials):
    body = envelope_body()
    result = deliver(body, store, credentials)
    assert result.outcome is Outcome.STORED
    assert result.event_key == "n-1"
    stored = store.events["n-1"]
    assert stored.payload.encode() == body
    assert stored.received_at == NOW
    assert stored.expires_at > NOW.timestamp() + 7 * 24 * 3600


def test_duplicate_is_acknowledged_without_a_second_event(store, credentials):
    body = envelope_body()
    assert deliver(body, store, credentials).outcome is Outcome.STORED
    assert deliver(body, store, credentials).outcome is Outcome.DUPLICATE
    assert list(store.events) == ["n-1"]


def test_oversized_body_refused_before_any_credentials_or_storage(store):
    class ExplodingCredentials:
        def get(self):
            raise AssertionError("HMAC work done for an oversized body")

        refresh = get

    body = b" " * (MAX_BODY_BYTES + 1)
    result = accept_delivery(body, "x", store=store, credentials=ExplodingCredentials())
    assert result.outcome is Outcome.TOO_LARGE
    assert store.write_attempts == 0


def test_body_of_exactly_the_cap_is_accepted(store, credentials):
    body = envelope_body()
    body = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    assert len(body) == MAX_BODY_BYTES
    assert deliver(body, store, credentials).outcome is Outcome.STORED


@pytest.mark.parametrize("authorization", [None, "", "Bearer x", "zz", "a" * 64])
def test_bad_signature_stores_nothing(store, credentials, authorization):
    result = deliver(envelope_body(), store, credentials, authorization=authorization)
    assert result.outcome is Outcome.UNAUTHORIZED
    assert store.write_attempts == 0


def test_invalid_body_with_valid_signature_is_quarantined_with_reason(store, credentials):
    body = b'{"type": 1, "shop_id": "7494"'
    result = deliver(body, store, credentials)
    assert result.outcome is Outcome.QUARANTINED
    assert store.events == {}
    (kept,) = store.quarantined
    assert kept.raw_body == body
    assert "not JSON" in kept.reason


def test_stale_delivery_acknowledged_but_not_stored(store, credentials):
    body = envelope_body(timestamp=NOW - timedelta(hours=48, seconds=1))
    assert deliver(body, store, credentials).outcome is Outcome.STALE
    assert store.events == {} and store.quarantined == []


def test_late_retry_within_horizon_is_still_stored(store, credentials):
    body = envelope_body(timestamp=NOW - timedelta(hours=15, minutes=30))
    assert deliver(body, store, credentials).outcome is Outcome.STORED


def test_unknown_type_is_stored(store, credentials):
    body = envelope_body(type=27, data={"whatever": True})
    assert deliver(body, store, credentials).outcome is Outcome.STORED


def test_storage_failure_propagates_so_the_caller_answers_5xx(store, credentials):
    store.unavailable = True
    with pytest.raises(StorageUnavailableError):
        deliver(envelope_body(), store, credentials)
    with pytest.raises(StorageUnavailableError):
        deliver(b"garbage", store, credentials)


def test_rotation_unseen_by_the_cache_is_picked_up_by_one_refresh(store, credentials):
    body = envelope_body()
    signed_with_new = sign(APP_KEY, body, b"new-secret")
    credentials.stored = StaticCredentials(APP_KEY, "new-secret", SECRET).current
    result = deliver(body, store, credentials, authorization=signed_with_new)
    assert result.outcome is Outcome.STORED
    assert credentials.refreshes == 1
    # Old-secret signatures keep working while the previous secret is listed.
    other = envelope_body("n-2")
    assert deliver(other, store, credentials).outcome is Outcome.STORED
    assert credentials.refreshes == 1


def test_malformed_header_does_not_trigger_a_secret_refresh(store, credentials):
    deliver(envelope_body(), store, credentials, authorization="Bearer x")
    assert credentials.refreshes == 0
