"""Order sync schedules and ops: the 10-minute reconciliation (the polling backstop), the hourly
ship-deadline sweep, and console events for backfills, rejected listings and a SKU's
reservations (events/console/order_sync_*.json). All decisions live in tts_sync.orders.
"""

from __future__ import annotations

from typing import Any

from tts_sync.cold_start import collector_paused

# The cold import makes long-lived objects only: no collections while it runs.
with collector_paused():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tts_sync.observability import logger, metrics, tracer
    from tts_sync.orders.jobs import handle_order_sync_event
    from tts_sync.tiktok.retry import deadline_from_lambda_context


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_order_sync_event(
        event, deadline_from_lambda_context(context, reserve_seconds=5.0)
    )
