"""Entry logic of the tracking upload function: what triggered it decides the work.

- SQS (TrackingUploadQueue): shipments from the back office, one upload per message (see
  tts_sync.fulfilment.upload). Unreadable or invalid bodies are refused with the exact reason
  (a refusal record in FulfilmentTable) and acknowledged: retrying cannot fix them.
- Anything else: an ops job from the console (fulfilment/jobs.py).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from tts_sync.audit.trail import write_audit
from tts_sync.errors import TtsSyncError
from tts_sync.fulfilment.models import Refusal, RefusalCode, TrackingUpload, UploadOutcome
from tts_sync.fulfilment.runtime import TrackingUploadDependencies, tracking_upload_dependencies
from tts_sync.fulfilment.upload import UploadResult, upload_audit_entry, upload_tracking
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.tiktok.retry import Deadline

MAX_BODY_BYTES = 256 * 1024
# Tracking-number-like tokens in a reason (TikTok's messages may quote one): 8+ letters and
# digits with a digit. Kept: TikTok's ids (15-19 digits) and codes (up to 9 digits).
_TRACKING_LIKE = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{8,}(?![A-Za-z0-9])")
# Metric per outcome (namespace TtsSync, service tracking_upload).
OUTCOME_METRICS = {
    UploadOutcome.UPLOADED: "TrackingUploaded",
    UploadOutcome.ALREADY_SHIPPED: "TrackingAlreadyShipped",
    UploadOutcome.DUPLICATE: "TrackingDuplicate",
    UploadOutcome.REFUSED: "TrackingRefused",
    UploadOutcome.RETRY: "TrackingRetry",
}


class InvalidTrackingMessageError(TtsSyncError):
    """The body is not a tracking upload message; the text says exactly why."""


def parse_tracking_message(body: str) -> TrackingUpload:
    if len(body.encode()) > MAX_BODY_BYTES:
        raise InvalidTrackingMessageError(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise InvalidTrackingMessageError(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidTrackingMessageError("body must be a JSON object (one shipment)")
    try:
        return TrackingUpload.model_validate(document)
    except ValidationError as exc:
        raise InvalidTrackingMessageError(_problems(exc)) from None


def _problems(exc: ValidationError) -> str:
    """Every problem with the field it is on, without quoting the input."""
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)[:8]
    ]
    return "invalid tracking upload message: " + "; ".join(parts)


class TrackingNotUploadedError(TtsSyncError):
    """Reported as a partial batch failure: the message comes back later."""


def handle_tracking_upload_event(event: Any, context: Any, deadline: Deadline) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and records and records[0].get("eventSource") == "aws:sqs":
        return handle_tracking_queue(event, context, deadline)
    from tts_sync.fulfilment.jobs import handle_fulfilment_job

    return handle_fulfilment_job(event, deadline)


def handle_tracking_queue(
    event: dict[str, Any], context: Any, deadline: Deadline
) -> dict[str, Any]:
    dependencies = tracking_upload_dependencies()

    def record_handler(record: SQSRecord) -> None:
        result = upload_record(record, dependencies, deadline)
        metrics.add_metric(name=OUTCOME_METRICS[result.outcome], unit=MetricUnit.Count, value=1)
        if result.outcome is UploadOutcome.RETRY:
            if result.retry_after and dependencies.visibility is not None:
                _delay(dependencies, record, result.retry_after)
            raise TrackingNotUploadedError(result.reason)

    # A batch whose every record failed is reported like any other, not raised.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )


def upload_record(
    record: SQSRecord, dependencies: TrackingUploadDependencies, deadline: Deadline
) -> UploadResult:
    """One message: parsed, uploaded (or refused with its reason, recorded), never dropped;
    its outcome on the order's audit trail (a failed audit write fails nothing)."""
    body = record.body or ""
    try:
        message = parse_tracking_message(body)
    except InvalidTrackingMessageError as exc:
        result = UploadResult(UploadOutcome.REFUSED, RefusalCode.INVALID_MESSAGE, str(exc))
        return _refused(dependencies, record.message_id, None, result, body)
    try:
        result = upload_tracking(message, dependencies.upload, deadline)
    except TtsSyncError as exc:
        result = UploadResult(UploadOutcome.RETRY, reason=f"{type(exc).__name__}: {exc}")
    log: dict[str, Any] = {
        "shop_id": message.shop_id,
        "order_id": message.order_id,
        "outcome": result.outcome.value,
        "action": result.action,
        "package_id": result.package_id,
    }
    if result.outcome is UploadOutcome.REFUSED:
        result = _refused(dependencies, record.message_id, message, result, body)
    elif result.outcome is UploadOutcome.RETRY:
        reason = loggable_reason(result.reason, message.tracking_number)
        logger.warning("tracking upload retried", extra={**log, "reason": reason})
    else:
        logger.info("tracking upload", extra=log)
    upload = dependencies.upload
    entry = upload_audit_entry(
        message, result, sent_at=_sent_at(record), attempted_at=upload.clock()
    )
    write_audit(upload.audit, [entry] if entry else [])
    return result


def _sent_at(record: SQSRecord) -> float | None:
    """When SQS took the message (the same on every redelivery of it)."""
    try:
        return int(record.attributes.sent_timestamp) / 1000
    except (KeyError, TypeError, ValueError):
        return None


def _refused(
    dependencies: TrackingUploadDependencies,
    message_id: str,
    message: TrackingUpload | None,
    result: UploadResult,
    body: str,
) -> UploadResult:
    assert result.code is not None
    refusal = Refusal(
        shop_id=message.shop_id if message else "",
        order_id=message.order_id if message else "",
        message_id=message_id,
        code=result.code,
        reason=result.reason,
        carrier=message.carrier if message else "",
        tracking_number=message.tracking_number if message else "",
        tiktok_code=result.tiktok_code,
        body_excerpt="" if message else body[:2000],
        refused_at=datetime.now(UTC),
    )
    try:
        dependencies.store.record_refusal(refusal)
    except TtsSyncError:
        # Not recorded: the message comes back (and the DLQ keeps it after the limit).
        return UploadResult(
            UploadOutcome.RETRY, result.code, "refusal not recorded: " + result.reason
        )
    logger.warning(
        "tracking upload refused",
        shop_id=refusal.shop_id,
        order_id=refusal.order_id,
        message_id=message_id,
        code=result.code.value,
        reason=loggable_reason(result.reason, refusal.tracking_number),
    )
    return result


def loggable_reason(reason: str, tracking_number: str = "") -> str:
    """The reason for a log line: tracking numbers masked (the refusal record keeps them)."""
    if tracking_number:
        reason = reason.replace(tracking_number, "[tracking]")

    def mask(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.isdigit() and (len(token) <= 9 or 15 <= len(token) <= 19):
            return token
        return "[tracking?]"

    return _TRACKING_LIKE.sub(mask, reason)


def _delay(dependencies: TrackingUploadDependencies, record: SQSRecord, seconds: int) -> None:
    try:
        dependencies.visibility.delay(record.event_source_arn, record.receipt_handle, seconds)
    except Exception as exc:  # best effort: the queue's own timeout applies then
        logger.warning("visibility not changed", error=type(exc).__name__)
