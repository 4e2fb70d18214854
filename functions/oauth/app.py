"""Seller onboarding (GET /oauth/tiktok/start, GET /oauth/tiktok/callback).

/start redirects to TikTok Shop's consent page with a single-use state; /callback checks it,
exchanges the code, stores the authorized shops and subscribes their webhooks. All decisions
live in tts_sync.shops (onboarding.py; http.py maps outcomes to pages and metrics).
"""

from __future__ import annotations

from typing import Any

from tts_sync.cold_start import collector_paused

# The cold import makes long-lived objects only: no collections while it runs.
with collector_paused():
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tts_sync.observability import logger, metrics, tracer
    from tts_sync.shops.http import handle_callback, handle_start
    from tts_sync.tiktok.retry import deadline_from_lambda_context

app = APIGatewayHttpResolver()


@app.get("/oauth/tiktok/start")
def start() -> Response[str]:
    return handle_start(app.current_event.request_context.domain_name)


@app.get("/oauth/tiktok/callback")
def callback() -> Response[str]:
    event = app.current_event
    return handle_callback(
        event.query_string_parameters or {},
        event.request_context.domain_name,
        deadline_from_lambda_context(app.lambda_context, reserve_seconds=2.0),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
