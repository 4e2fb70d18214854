"""Entry logic of the quantity export function: what triggered it decides the work.

- SQS (QuantityExportQueue): levels from the back office. Unreadable or invalid bodies are
  refused with the exact reason (a refusal record in StockTable) and acknowledged: retrying
  cannot fix them. Levels that hit a transient failure are reported as partial batch failures
  (the DLQ keeps them after the receive limit); everything else is acknowledged.
- DynamoDB stream (ReservationsTable): a reservation changed, so the SKUs it names are pushed
  again from their last levels (an order placed after the back office counted is subtracted
  even when the level was exported before order sync saw the order).
- Anything else: an ops job from the console (stock/jobs.py).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from tts_sync.errors import TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.stock.export import (
    ExportOutcome,
    ExportReport,
    IncomingLevel,
    export_from_ledger,
    export_levels,
)
from tts_sync.stock.models import Refusal, StockLevel, StockLevelList
from tts_sync.stock.runtime import quantity_export_dependencies
from tts_sync.tiktok.retry import Deadline

MAX_BODY_BYTES = 256 * 1024


class InvalidQuantityMessageError(TtsSyncError):
    """The body is not a quantity export message; the text says exactly why."""


class LevelNotExportedError(TtsSyncError):
    """Reported as a partial batch failure: the message comes back later."""


def parse_quantity_message(body: str) -> list[StockLevel]:
    if len(body.encode()) > MAX_BODY_BYTES:
        raise InvalidQuantityMessageError(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise InvalidQuantityMessageError(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidQuantityMessageError("body must be a JSON object (one level or {levels})")
    try:
        if "levels" in document:
            return list(StockLevelList.model_validate(document).levels)
        return [StockLevel.model_validate(document)]
    except ValidationError as exc:
        raise InvalidQuantityMessageError(_problems(exc)) from None


def handle_quantity_export_event(event: Any, context: Any, deadline: Deadline) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and records:
        source = records[0].get("eventSource")
        if source == "aws:sqs":
            return handle_quantity_queue(event, context, deadline)
        if source == "aws:dynamodb":
            return handle_reservation_changes(event, context, deadline)
    from tts_sync.stock.jobs import handle_stock_job

    return handle_stock_job(event, deadline)


def handle_quantity_queue(
    event: dict[str, Any], context: Any, deadline: Deadline
) -> dict[str, Any]:
    dependencies = quantity_export_dependencies()
    incoming: list[IncomingLevel] = []
    invalid: list[Refusal] = []
    for raw in event.get("Records", []):
        message_id = str(raw.get("messageId", ""))
        body = str(raw.get("body", ""))
        try:
            levels = parse_quantity_message(body)
        except InvalidQuantityMessageError as exc:
            invalid.append(
                Refusal(
                    message_id=message_id,
                    reason=str(exc),
                    body_excerpt=body[:2000],
                    refused_at=datetime.now(UTC),
                )
            )
            continue
        incoming += [IncomingLevel(message_id, level) for level in levels]
    report = export_levels(incoming, dependencies.export, deadline)
    for refusal in invalid:
        report.mark(refusal.message_id, ExportOutcome.REFUSED, refusal.reason)
        try:
            dependencies.export.ledger.record_refusal(refusal)
        except TtsSyncError:
            report.mark(refusal.message_id, ExportOutcome.RETRY, "refusal not recorded")
        else:
            logger.warning(
                "quantity message refused", message_id=refusal.message_id, reason=refusal.reason
            )
    if invalid:
        metrics.add_metric(name="QuantityMessageInvalid", unit=MetricUnit.Count, value=len(invalid))

    def report_record(record: SQSRecord) -> None:
        if report.outcomes.get(record.message_id) is ExportOutcome.RETRY:
            raise LevelNotExportedError(report.reasons.get(record.message_id, "retry"))

    return _partial_response(event, EventType.SQS, report_record, context)


def handle_reservation_changes(
    event: dict[str, Any], context: Any, deadline: Deadline
) -> dict[str, Any]:
    """Re-export the SKUs whose reservations changed (one pass per shop over the batch)."""
    dependencies = quantity_export_dependencies()
    skus: dict[str, set[str]] = defaultdict(set)
    sequences: dict[str, list[str]] = defaultdict(list)  # shop -> sequence numbers
    for raw in event.get("Records", []):
        image = (raw.get("dynamodb") or {}).get("NewImage") or {}
        shop_id = image.get("shop_id", {}).get("S")
        sku_id = image.get("sku_id", {}).get("S")
        if shop_id and sku_id:
            skus[shop_id].add(sku_id)
            sequences[shop_id].append(str(raw["dynamodb"].get("SequenceNumber", "")))
    failed: dict[str, str] = {}
    for shop_id, sku_ids in skus.items():
        try:
            report = export_from_ledger(shop_id, dependencies.export, deadline, sku_ids=sku_ids)
        except TtsSyncError as exc:
            report = ExportReport(
                outcomes={"shop": ExportOutcome.RETRY}, reasons={"shop": str(exc)}
            )
        retry = [m for m, o in report.outcomes.items() if o is ExportOutcome.RETRY]
        if retry:
            for sequence in sequences[shop_id]:
                failed[sequence] = report.reasons.get(retry[0], "retry")

    def report_record(record: DynamoDBRecord) -> None:
        sequence = record.dynamodb.sequence_number if record.dynamodb else None
        if sequence in failed:
            raise LevelNotExportedError(failed[sequence or ""])

    return _partial_response(event, EventType.DynamoDBStreams, report_record, context)


def _partial_response(
    event: dict[str, Any], event_type: EventType, handler: Any, context: Any
) -> dict[str, Any]:
    # A batch whose every record failed is reported like any other, not raised.
    processor = BatchProcessor(event_type=event_type, raise_on_entire_batch_failure=False)
    return dict(
        process_partial_response(
            event=event, record_handler=handler, processor=processor, context=context
        )
    )


def _problems(exc: ValidationError) -> str:
    """Every problem with the field it is on, without quoting the input."""
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)[:8]
    ]
    return "invalid quantity message: " + "; ".join(parts)
