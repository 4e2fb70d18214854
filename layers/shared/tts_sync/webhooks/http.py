"""HTTP side of the intake: API Gateway body decoding, and outcomes mapped to status codes and
metrics in one place. TikTok wants an empty body: 200 to acknowledge, 401 for a bad signature;
5xx makes it retry."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from tts_sync.aws import dynamodb_client
from tts_sync.config import load_config
from tts_sync.credentials import credentials_provider
from tts_sync.errors import CredentialsUnavailableError, StorageUnavailableError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.webhooks.dynamo_store import DynamoEventStore
from tts_sync.webhooks.intake import (
    MAX_BODY_BYTES,
    CredentialsSource,
    EventStore,
    Outcome,
    accept_delivery,
)
from tts_sync.wiring import Wiring

STATUS_BY_OUTCOME = {
    Outcome.STORED: 200,
    Outcome.DUPLICATE: 200,
    Outcome.QUARANTINED: 200,  # a retry cannot fix the body; it is kept with its reason
    Outcome.STALE: 200,
    Outcome.UNAUTHORIZED: 401,
    Outcome.TOO_LARGE: 413,
}
METRIC_BY_OUTCOME = {
    Outcome.STORED: "WebhookStored",
    Outcome.DUPLICATE: "WebhookDuplicate",
    Outcome.QUARANTINED: "WebhookQuarantined",
    Outcome.STALE: "WebhookStale",
    Outcome.UNAUTHORIZED: "WebhookUnauthorized",
    Outcome.TOO_LARGE: "WebhookTooLarge",
}
RETRY_LATER_STATUS = 503  # TikTok retries anything but 200/401
# base64 grows 4/3: a larger encoded body cannot decode under the cap, so refuse it undecoded.
_MAX_BASE64_CHARS = 4 * ((MAX_BODY_BYTES + 2) // 3)


class WebhookConfig(BaseModel):
    events_table_name: str = Field(alias="EVENTS_TABLE_NAME", min_length=1)
    quarantine_table_name: str = Field(alias="QUARANTINE_TABLE_NAME", min_length=1)


@dataclass(frozen=True)
class IntakeDependencies:
    store: EventStore
    credentials: CredentialsSource


def _default_dependencies() -> IntakeDependencies:
    config = load_config(WebhookConfig)
    store = DynamoEventStore(
        dynamodb_client(fast=True), config.events_table_name, config.quarantine_table_name
    )
    return IntakeDependencies(store=store, credentials=credentials_provider())


intake_dependencies = Wiring(_default_dependencies)
override_dependencies = intake_dependencies.override


def respond(status: int) -> dict[str, Any]:
    return {"statusCode": status, "body": ""}


def handle_webhook(
    body: str | None, is_base64_encoded: bool, authorization: str | None
) -> dict[str, Any]:
    """Turns one API Gateway delivery into a response; the only place outcomes become codes."""
    try:
        raw = _raw_body(body, is_base64_encoded)
    except UndecodableBodyError as exc:
        logger.warning("webhook body undecodable", reason=str(exc))
        return _answer("WebhookBadRequest", 400)
    if raw is None:
        return _answer(METRIC_BY_OUTCOME[Outcome.TOO_LARGE], STATUS_BY_OUTCOME[Outcome.TOO_LARGE])
    dependencies = intake_dependencies()
    try:
        result = accept_delivery(
            raw, authorization, store=dependencies.store, credentials=dependencies.credentials
        )
    except StorageUnavailableError as exc:
        logger.error("webhook not stored, asking TikTok to retry", error=str(exc))
        return _answer("WebhookStorageFailed", RETRY_LATER_STATUS)
    except CredentialsUnavailableError as exc:
        logger.error("app credentials unavailable, asking TikTok to retry", error=str(exc))
        return _answer("WebhookCredentialsUnavailable", RETRY_LATER_STATUS)
    return _answer(METRIC_BY_OUTCOME[result.outcome], STATUS_BY_OUTCOME[result.outcome])


def _answer(metric: str, status: int) -> dict[str, Any]:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return respond(status)


class UndecodableBodyError(ValueError):
    """API Gateway handed over a body we cannot turn back into the bytes TikTok sent."""


def _raw_body(body: str | None, is_base64_encoded: bool) -> bytes | None:
    """The exact bytes received, or None when the body is certainly over the cap (checked
    before decoding, so a huge body costs no work); accept_delivery checks the exact size."""
    if not body:
        return b""
    if is_base64_encoded:
        if len(body) > _MAX_BASE64_CHARS:
            return None
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise UndecodableBodyError("invalid base64 body") from None
    # Each character is at least one UTF-8 byte.
    if len(body) > MAX_BODY_BYTES:
        return None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise UndecodableBodyError("body is not valid UTF-8 text") from None
