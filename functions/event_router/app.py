"""The Events table's stream consumer (one reader per shard, as DynamoDB Streams wants).

Routes every stored webhook by type: order events hydrate orders (Get Order Detail, the
monotonic record, reservations, outbound events), product status updates the catalog, types
6/7 the shop lifecycle; unknown types are recorded as ignored. Partial batch failures are
reported per record. All decisions live in tts_sync (events/router.py, orders/, catalog/).
"""

from __future__ import annotations

from typing import Any

from tts_sync.cold_start import collector_paused

# The cold import makes long-lived objects only: no collections while it runs.
with collector_paused():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tts_sync.events.router import handle_events_stream
    from tts_sync.observability import logger, metrics, tracer
    from tts_sync.tiktok.retry import deadline_from_lambda_context


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_events_stream(
        event, context, deadline_from_lambda_context(context, reserve_seconds=3.0)
    )
