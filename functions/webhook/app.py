"""TikTok Shop webhook intake (POST /webhooks/tiktok).

Verifies the signature on the raw bytes, deduplicates and stores the event with one conditional
write, and answers within TikTok's 3-second budget. All decisions live in tts_sync.webhooks.
"""

from __future__ import annotations

from typing import Any

from tts_sync.cold_start import collector_paused

# The cold import makes long-lived objects only: no collections while it runs.
with collector_paused():
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tts_sync.observability import logger, metrics, tracer
    from tts_sync.webhooks.http import handle_webhook


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Three fields of the HTTP API (payload 2.0) event, read directly: Powertools' data classes
    # package imports every event type it knows, a tenth of this function's cold start, on
    # TikTok's clock. API Gateway HTTP APIs lower-case header names.
    headers = event.get("headers") or {}
    return handle_webhook(
        event.get("body"), bool(event.get("isBase64Encoded")), headers.get("authorization")
    )
