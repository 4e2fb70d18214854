"""Quantity exports: back-office stock levels from QuantityExportQueue to TikTok Shop, every
warehouse of each SKU, never oversold. Also re-exports SKUs whose reservations changed
(ReservationsTable stream) and runs the ops console jobs (resync, buffer rules, stock,
refusals: events/console/quantity_export_*.json). All decisions live in tts_sync.stock.
"""

from __future__ import annotations

from typing import Any

from tts_sync.cold_start import collector_paused

# The cold import makes long-lived objects only: no collections while it runs.
with collector_paused():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tts_sync.observability import logger, metrics, tracer
    from tts_sync.stock.batch import handle_quantity_export_event
    from tts_sync.tiktok.retry import deadline_from_lambda_context


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_quantity_export_event(
        event, context, deadline_from_lambda_context(context, reserve_seconds=3.0)
    )
