"""Entry logic of the token-refresh function: one Lambda, three kinds of event.

- EventBridge schedule ("Scheduled Event"): refresh every shop that is due, retry missing
  webhook subscriptions, report counts.
- DynamoDB stream of the Events table, filtered to type 6/7 webhooks: mark the shops; partial
  batch failures are reported per record (BatchProcessor), so one bad record is retried alone.
- Ops console test event {"shop_id": "..."}: force a refresh of that shop now.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tts_sync.config import load_config
from tts_sync.errors import TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.shops.runtime import TokenRefreshConfig, shop_dependencies, shops_only
from tts_sync.shops.subscriptions import webhook_address
from tts_sync.shops.tokens import (
    TYPE_AUTHORIZATION_EXPIRING,
    TYPE_SELLER_DEAUTHORIZATION,
    AuthorizationEvent,
    RefreshPolicy,
    handle_authorization_event,
    refresh_one,
    run_scheduled,
)
from tts_sync.tiktok.retry import Deadline


class InvalidTokenRefreshEventError(TtsSyncError):
    """The event is neither a schedule, a stream batch nor {"shop_id": "<digits>"}."""


class ForcedRefresh(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")


_processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def handle_token_refresh_event(event: Any, context: Any, deadline: Deadline) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidTokenRefreshEventError(
            'expected a JSON object: a schedule event, stream records, or {"shop_id": "..."}'
        )
    if "Records" in event:
        return dict(
            process_partial_response(
                event=event, record_handler=_handle_record, processor=_processor, context=context
            )
        )
    if event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event":
        return _scheduled(deadline)
    return _forced(event, deadline)


def _scheduled(deadline: Deadline) -> dict[str, Any]:
    config = load_config(TokenRefreshConfig)
    dependencies = shop_dependencies()
    address = webhook_address(config.public_base_url) if config.public_base_url else ""
    report = run_scheduled(
        store=dependencies.shops,
        api=dependencies.client,
        policy=RefreshPolicy(config.refresh_before_seconds),
        clock=dependencies.clock,
        deadline=deadline,
        webhook_address=address,
        event_types=dependencies.event_types,
        max_refusals=config.max_refusals_per_run,
    )
    summary = dataclasses.asdict(report)
    logger.info("token run finished", **summary)
    if report.errors:
        metrics.add_metric(name="TokenRunShopErrors", unit=MetricUnit.Count, value=report.errors)
    if report.deferred:
        metrics.add_metric(name="TokenRunDeferred", unit=MetricUnit.Count, value=report.deferred)
    return summary


def _forced(event: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
    try:
        request = ForcedRefresh.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'event'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidTokenRefreshEventError(
            'expected {"shop_id": "<TikTok shop id>"} (or a schedule event): ' + problems
        ) from None
    dependencies = shop_dependencies()
    outcome = refresh_one(
        request.shop_id,
        store=dependencies.shops,
        api=dependencies.client,
        clock=dependencies.clock,
        deadline=deadline,
    )
    logger.info("forced token refresh", shop_id=request.shop_id, outcome=outcome.value)
    return {"shop_id": request.shop_id, "outcome": outcome.value}


def _handle_record(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image:
        return
    event_type = int(image["event_type"])
    if event_type not in (TYPE_SELLER_DEAUTHORIZATION, TYPE_AUTHORIZATION_EXPIRING):
        logger.info("stream record ignored (not an authorization event)", event_type=event_type)
        return
    payload = json.loads(image.get("payload") or "{}")
    data = payload.get("data") if isinstance(payload, dict) else None
    expiration = data.get("expiration_time") if isinstance(data, dict) else None
    event = AuthorizationEvent(
        type=event_type,
        shop_id=str(image["shop_id"]),
        timestamp=int(image["event_timestamp"]),
        expiration_time=_expiration_time(expiration),
    )
    store, clock = shops_only()
    handle_authorization_event(store, event, int(clock()))


def _expiration_time(value: Any) -> int | None:
    """TikTok sends a string unix timestamp; anything unreadable still marks the shop (the
    warning matters more than the date), without an expiry."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if number == number and abs(number) < 1e12:  # not NaN, not absurd
        return int(number)
    logger.warning(
        "type-7 expiration_time unreadable; marking without it", value_type=type(value).__name__
    )
    return None
