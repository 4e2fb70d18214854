"""Privacy deletion: buyer and shop deletion requests from PrivacyDeletionQueue (partial batch
failures: a failed request is retried, then dead-lettered; an invalid one gets a rejected
receipt, never dropped), plus the schedules (retention sweep, deauthorization grace period,
completion deadline) and ops console events (a request's receipt). All decisions live in
tts_sync.privacy.
"""

from __future__ import annotations

from typing import Any

from tts_sync.cold_start import collector_paused

# The cold import makes long-lived objects only: no collections while it runs.
with collector_paused():
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from tts_sync.observability import logger, metrics, tracer
    from tts_sync.privacy.jobs import handle_deletion_message, handle_privacy_job
    from tts_sync.tiktok.retry import deadline_from_lambda_context

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    handle_deletion_message(record.body, record.message_id)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "Records" in event:
        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
    return handle_privacy_job(event, deadline_from_lambda_context(context, reserve_seconds=5.0))
