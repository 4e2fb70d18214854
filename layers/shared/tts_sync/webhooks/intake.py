"""The intake decision for one webhook delivery: refuse, quarantine, drop as stale, or store once.

Pure domain code: the event store and the credentials are ports, so the handler stays thin and
tests drive this with fakes or with the DynamoDB adapter against moto alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Protocol

from tts_sync.credentials import AppCredentials
from tts_sync.errors import StorageRejectedError
from tts_sync.events import StoredEvent
from tts_sync.observability import logger
from tts_sync.webhooks.envelope import InvalidPayloadError, parse_envelope
from tts_sync.webhooks.signature import SignatureCheck, verify

MAX_BODY_BYTES = 256 * 1024
# TikTok's last retry lands ~15.5 h after the first try; anything far older is a replay.
STALE_AFTER_SECONDS = 48 * 3600
# Time for an operator to act on a quarantined body; bounded because it may hold buyer PII.
QUARANTINE_RETENTION_SECONDS = 30 * 24 * 3600


class Outcome(Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"
    STALE = "stale"
    UNAUTHORIZED = "unauthorized"
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class QuarantinedDelivery:
    raw_body: bytes
    reason: str
    received_at: datetime

    @property
    def expires_at(self) -> int:
        return int(self.received_at.timestamp()) + QUARANTINE_RETENTION_SECONDS

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.raw_body).hexdigest()


@dataclass(frozen=True)
class IntakeResult:
    outcome: Outcome
    event_key: str | None = None
    reason: str | None = None


class EventStore(Protocol):
    def put_if_absent(self, event: StoredEvent) -> bool:
        """Store `event` unless its key exists; False for a duplicate. Raises
        StorageUnavailableError when the write could not be confirmed, StorageRejectedError
        when the store refuses it for good."""

    def quarantine(self, delivery: QuarantinedDelivery) -> None:
        """Keep a delivery that cannot become work, with its reason. Raises
        StorageUnavailableError when the write could not be confirmed."""


class CredentialsSource(Protocol):
    def get(self) -> AppCredentials: ...

    def refresh(self) -> AppCredentials | None: ...


def accept_delivery(
    body: bytes,
    authorization: str | None,
    *,
    store: EventStore,
    credentials: CredentialsSource,
    now: datetime | None = None,
) -> IntakeResult:
    received_at = now or datetime.now(UTC)
    if len(body) > MAX_BODY_BYTES:
        return IntakeResult(Outcome.TOO_LARGE, reason=f"body is {len(body)} bytes")

    check = _check_signature(body, authorization, credentials)
    if check is not SignatureCheck.VALID:
        logger.warning("webhook signature refused", check=check.value)
        return IntakeResult(Outcome.UNAUTHORIZED, reason=check.value)

    try:
        envelope = parse_envelope(body)
    except InvalidPayloadError as exc:
        return _quarantine(store, body, exc.reason, received_at)

    age = received_at.timestamp() - envelope.timestamp
    if age > STALE_AFTER_SECONDS:
        logger.warning(
            "stale webhook acknowledged, not stored",
            event_key=envelope.event_key,
            age_seconds=int(age),
        )
        return IntakeResult(Outcome.STALE, envelope.event_key, reason=f"{int(age)} s old")

    event = StoredEvent(
        event_key=envelope.event_key,
        envelope=envelope,
        payload=body.decode("utf-8"),
        received_at=received_at,
    )
    try:
        stored = store.put_if_absent(event)
    except StorageRejectedError as exc:
        # A signed body no retry can fix: a 5xx would have TikTok resend it for 15.5 h.
        return _quarantine(store, body, exc.reason, received_at)
    if not stored:
        logger.info("duplicate webhook", event_key=event.event_key, event_type=envelope.type)
        return IntakeResult(Outcome.DUPLICATE, event.event_key)
    logger.info(
        "webhook stored",
        event_key=event.event_key,
        event_type=envelope.type_name,
        shop_id=envelope.shop_id,
    )
    return IntakeResult(Outcome.STORED, event.event_key)


def _quarantine(store: EventStore, body: bytes, reason: str, received_at: datetime) -> IntakeResult:
    store.quarantine(QuarantinedDelivery(body, reason, received_at))
    logger.warning("webhook quarantined", reason=reason, size=len(body))
    return IntakeResult(Outcome.QUARANTINED, reason=reason)


def _check_signature(
    body: bytes, authorization: str | None, credentials: CredentialsSource
) -> SignatureCheck:
    current = credentials.get()
    check = verify(current.app_key, body, authorization, current.webhook_secrets)
    if check is not SignatureCheck.MISMATCH:
        return check
    # A well-formed signature that matches no cached secret may follow a rotation we have not
    # seen yet: re-read the secret (rate-limited by the provider) and try once more.
    refreshed = credentials.refresh()
    if refreshed is None or refreshed == current:
        return check
    return verify(refreshed.app_key, body, authorization, refreshed.webhook_secrets)
