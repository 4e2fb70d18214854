"""TikTok Shop webhook intake (POST /webhooks/tiktok).

Verifies the signature on the raw bytes, deduplicates and stores the event with one conditional
write, and answers within TikTok's 3-second budget. All decisions live in tts_sync.webhooks.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from tts_sync.observability import logger, metrics, tracer
from tts_sync.webhooks.http import handle_webhook


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=APIGatewayProxyEventV2)
def lambda_handler(event: APIGatewayProxyEventV2, context: LambdaContext) -> dict[str, Any]:
    # API Gateway HTTP APIs lower-case header names.
    return handle_webhook(
        event.body, bool(event.is_base64_encoded), event.headers.get("authorization")
    )
