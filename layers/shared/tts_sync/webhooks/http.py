"""HTTP side of the intake: API Gateway body decoding, and outcomes mapped to status codes and
metrics in one place. TikTok wants an empty body: 200 to acknowledge, 401 for a bad signature;
5xx makes it retry."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, Field

from tts_sync.aws import dynamodb_client
from tts_sync.config import load_config
from tts_sync.credentials import credentials_provider
from tts_sync.errors import StorageUnavailableError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.webhooks.dynamo_store import DynamoEventStore
from tts_sync.webhooks.intake import (
    MAX_BODY_BYTES,
    CredentialsSource,
    EventStore,
    Outcome,
    accept_delivery,
)

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
STORAGE_FAILED_STATUS = 503
# base64 grows 4/3: a larger encoded body cannot decode under the cap, so refuse it undecoded.
_MAX_BASE64_CHARS = 4 * ((MAX_BODY_BYTES + 2) // 3)


class WebhookConfig(BaseModel):
    events_table_name: str = Field(alias="EVENTS_TABLE_NAME", min_length=1)
    quarantine_table_name: str = Field(alias="QUARANTINE_TABLE_NAME", min_length=1)


@dataclass(frozen=True)
class IntakeDependencies:
    store: EventStore
    credentials: CredentialsSource


@cache
def _default_dependencies() -> IntakeDependencies:
    config = load_config(WebhookConfig)
    store = DynamoEventStore(
        dynamodb_client(fast=True), config.events_table_name, config.quarantine_table_name
    )
    return IntakeDependencies(store=store, credentials=credentials_provider())


_override: IntakeDependencies | None = None


def intake_dependencies() -> IntakeDependencies:
    return _override or _default_dependencies()


def override_dependencies(dependencies: IntakeDependencies | None) -> None:
    """Tests swap in fakes here (None restores the AWS-backed defaults)."""
    global _override
    _override = dependencies


def respond(status: int) -> dict[str, Any]:
    return {"statusCode": status, "body": ""}


def handle_webhook(
    body: str | None, is_base64_encoded: bool, authorization: str | None
) -> dict[str, Any]:
    """Turns one API Gateway delivery into a response; the only place outcomes become codes."""
    raw = _raw_body(body, is_base64_encoded)
    if raw is None:
        metrics.add_metric(name="WebhookTooLarge", unit=MetricUnit.Count, value=1)
        return respond(413)
    if isinstance(raw, str):
        logger.warning("webhook body undecodable", reason=raw)
        metrics.add_metric(name="WebhookBadRequest", unit=MetricUnit.Count, value=1)
        return respond(400)
    dependencies = intake_dependencies()
    try:
        result = accept_delivery(
            raw, authorization, store=dependencies.store, credentials=dependencies.credentials
        )
    except StorageUnavailableError as exc:
        logger.error("webhook not stored, asking TikTok to retry", error=str(exc))
        metrics.add_metric(name="WebhookStorageFailed", unit=MetricUnit.Count, value=1)
        return respond(STORAGE_FAILED_STATUS)
    metrics.add_metric(name=METRIC_BY_OUTCOME[result.outcome], unit=MetricUnit.Count, value=1)
    return respond(STATUS_BY_OUTCOME[result.outcome])


def _raw_body(body: str | None, is_base64_encoded: bool) -> bytes | str | None:
    """The exact bytes received; None when over the cap, a str reason when undecodable."""
    if not body:
        return b""
    if is_base64_encoded:
        if len(body) > _MAX_BASE64_CHARS:
            return None
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return "invalid base64 body"
    # A text body can hold up to 4 UTF-8 bytes per character: skip encoding a hopeless one.
    if len(body) > MAX_BODY_BYTES:
        return None
    try:
        raw = body.encode("utf-8")
    except UnicodeEncodeError:
        return "body is not valid UTF-8 text"
    return None if len(raw) > MAX_BODY_BYTES else raw
