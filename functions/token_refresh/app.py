"""Token lifecycle: hourly schedule (refresh due access tokens, retry missing webhook
subscriptions), the Events stream filtered to type 6/7 webhooks (deauthorized / authorization
expiring), and an ops console event {"shop_id": "..."} forcing one refresh.

All decisions live in tts_sync.shops (tokens.py; jobs.py tells the three events apart).
"""

from __future__ import annotations

from typing import Any

from tts_sync.cold_start import collector_paused

# The cold import makes long-lived objects only: no collections while it runs.
with collector_paused():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tts_sync.observability import logger, metrics, tracer
    from tts_sync.shops.jobs import handle_token_refresh_event
    from tts_sync.tiktok.retry import deadline_from_lambda_context


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_token_refresh_event(
        event, context, deadline_from_lambda_context(context, reserve_seconds=5.0)
    )
