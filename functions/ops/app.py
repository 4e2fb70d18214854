"""Ops console events (events/console/ops_*.json): redrive the dead-letter queues, replay stored
events through EventRouterFunction, replay quarantined deliveries. An operator pastes one in the
Lambda console's Test tab; `tts-sync ops` runs the same code from a terminal. A run that meets
the deadline answers "complete": false and the event to run next. All decisions live in
tts_sync.ops.
"""

from __future__ import annotations

from typing import Any

from tts_sync.cold_start import collector_paused

# The cold import makes long-lived objects only: no collections while it runs.
with collector_paused():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tts_sync.deadline import deadline_from_lambda_context
    from tts_sync.observability import logger, metrics, tracer
    from tts_sync.ops.jobs import handle_ops_event


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_ops_event(event, deadline_from_lambda_context(context, reserve_seconds=5.0))
