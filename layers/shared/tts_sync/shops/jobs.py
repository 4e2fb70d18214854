"""Entry logic of the token-refresh function: one Lambda, two kinds of event.

- EventBridge schedule ("Scheduled Event"): refresh every shop that is due, retry missing
  webhook subscriptions, report counts.
- Ops console test event {"shop_id": "..."}: force a refresh of that shop now.

Type 6/7 webhooks (deauthorized, authorization expiring) reach the shop lifecycle through the
Events stream's one consumer (tts_sync.events.router), not through this function.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tts_sync.config import load_config
from tts_sync.errors import TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.shops.models import ShopStatus
from tts_sync.shops.runtime import TokenRefreshConfig, shop_dependencies
from tts_sync.shops.subscriptions import webhook_address
from tts_sync.shops.tokens import (
    RefreshPolicy,
    refresh_one,
    run_scheduled,
)
from tts_sync.tiktok.retry import Deadline

# Gauges each scheduled run emits: how many shops it reached are in each status.
SHOPS_BY_STATUS_METRIC = {
    ShopStatus.ACTIVE: "ShopsActive",
    ShopStatus.REAUTHORIZATION_REQUIRED: "ShopsReauthorizationRequired",
    ShopStatus.DEAUTHORIZED: "ShopsDeauthorized",
}


class InvalidTokenRefreshEventError(TtsSyncError):
    """The event is neither a schedule nor {"shop_id": "<digits>"} (stream batches go to the
    Events stream's consumer)."""


class ForcedRefresh(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")


def handle_token_refresh_event(event: Any, context: Any, deadline: Deadline) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidTokenRefreshEventError(
            'expected a JSON object: a schedule event or {"shop_id": "..."}'
        )
    if "Records" in event:
        raise InvalidTokenRefreshEventError(
            "stream records go to EventRouterFunction (the Events stream's one consumer)"
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
    for status in ShopStatus:  # every status each run, zeros included: the dashboard's gauges
        metrics.add_metric(
            name=SHOPS_BY_STATUS_METRIC[status],
            unit=MetricUnit.Count,
            value=report.by_status.get(status.value, 0),
        )
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
