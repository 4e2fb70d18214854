"""Tracking uploads: back-office shipments from TrackingUploadQueue to TikTok Shop (carrier and
tracking number, exactly once, every refusal explained), and the ops console jobs (carrier
map, overrides, settings, refusals: events/console/tracking_upload_*.json). All decisions live
in tts_sync.fulfilment.
"""

from __future__ import annotations

from typing import Any

from tts_sync.cold_start import collector_paused

# The cold import makes long-lived objects only: no collections while it runs.
with collector_paused():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tts_sync.fulfilment.batch import handle_tracking_upload_event
    from tts_sync.observability import logger, metrics, tracer
    from tts_sync.tiktok.retry import deadline_from_lambda_context


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_tracking_upload_event(
        event, context, deadline_from_lambda_context(context, reserve_seconds=3.0)
    )
