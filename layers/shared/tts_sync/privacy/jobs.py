"""Entry logic of the privacy deletion function: queue messages (deletion requests), the
schedules (retention sweep, deauthorization grace period, completion deadline) and the ops
console events (events/console/privacy_deletion_*.json)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tts_sync.errors import TtsSyncError
from tts_sync.privacy.erasure import handle_request, reject
from tts_sync.privacy.models import (
    DeletionReceipt,
    InvalidDeletionRequestError,
    ReceiptStatus,
    RequestId,
    parse_deletion_request,
)
from tts_sync.privacy.runtime import privacy_dependencies
from tts_sync.privacy.sweeps import deauthorization_sweep, overdue_requests, retention_sweep
from tts_sync.tiktok.retry import Deadline


class InvalidPrivacyJobError(TtsSyncError):
    """The console or schedule event is not a privacy job; the message says what is wrong."""


def handle_deletion_message(body: str, message_id: str) -> DeletionReceipt:
    """One PrivacyDeletionQueue message: erase, or record why it cannot be (never dropped)."""
    context = privacy_dependencies().erasure
    try:
        request = parse_deletion_request(body)
    except InvalidDeletionRequestError as invalid:
        received = context.clock()
        return reject(
            DeletionReceipt(
                request_id=invalid.request_id or f"invalid-{message_id}",
                status=ReceiptStatus.REJECTED,
                received_at=datetime.fromtimestamp(received, UTC),
                completed_at=datetime.fromtimestamp(received, UTC),
                reason=invalid.reason,
            ),
            context,
        )
    return handle_request(request, context)


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReceiptJob(_Job):
    job: Literal["receipt"]
    request_id: RequestId


class RetentionJob(_Job):
    job: Literal["retention"]


class DeauthorizedShopsJob(_Job):
    job: Literal["deauthorized_shops"]


class DeadlinesJob(_Job):
    job: Literal["deadlines"]


PrivacyJob = Annotated[
    ReceiptJob | RetentionJob | DeauthorizedShopsJob | DeadlinesJob, Field(discriminator="job")
]
JOB_NAMES = ("receipt", "retention", "deauthorized_shops", "deadlines")
_JOBS: TypeAdapter[Any] = TypeAdapter(PrivacyJob)


def parse_privacy_job(
    event: Any,
) -> ReceiptJob | RetentionJob | DeauthorizedShopsJob | DeadlinesJob:
    if not isinstance(event, dict):
        raise InvalidPrivacyJobError('expected a JSON object such as {"job": "receipt", ...}')
    if event.get("job") not in JOB_NAMES:
        raise InvalidPrivacyJobError(f'expected "job" one of {", ".join(JOB_NAMES)}')
    try:
        job: ReceiptJob | RetentionJob | DeauthorizedShopsJob | DeadlinesJob = (
            _JOBS.validate_python(event)
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'][1:]) or 'event'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise InvalidPrivacyJobError(f"{event['job']}: {problems}") from None
    return job


def handle_privacy_job(event: Any, deadline: Deadline) -> dict[str, Any]:
    job = parse_privacy_job(event)
    dependencies = privacy_dependencies()
    context, config = dependencies.erasure, dependencies.config
    if isinstance(job, ReceiptJob):
        receipt = context.receipts.get(job.request_id)
        if receipt is None:
            return {"request_id": job.request_id, "found": False}
        return {"found": True, **receipt.model_dump(mode="json")}
    if isinstance(job, RetentionJob):
        report = retention_sweep(context, config.retention_seconds, deadline)
        return {"job": job.job, "erased_orders": report.erased, "deferred": report.deferred}
    if isinstance(job, DeauthorizedShopsJob):
        report = deauthorization_sweep(context, config.deauthorization_grace_seconds, deadline)
        return {"job": job.job, "requests": report.request_ids, "deferred": report.deferred}
    overdue = overdue_requests(context, config.deadline_seconds)
    return {"job": job.job, "overdue": overdue}
