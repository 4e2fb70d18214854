"""Entry logic of the tracking upload function: what triggered it decides the work.

- SQS (TrackingUploadQueue): shipments from the back office, one upload per message (see
  tts_sync.fulfilment.upload). Unreadable or invalid bodies are refused with the exact reason
  (a refusal record in FulfilmentTable) and acknowledged: retrying cannot fix them.
- Anything else: an ops job from the console (fulfilment/jobs.py).
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from tts_sync.errors import TtsSyncError
from tts_sync.fulfilment.models import TrackingUpload

MAX_BODY_BYTES = 256 * 1024


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
