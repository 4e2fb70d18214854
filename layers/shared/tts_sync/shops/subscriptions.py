"""Per-shop webhook subscriptions through the Event API (PUT /event/202309/webhooks).

One failed event type never loses the others: each type's result is recorded on the shop, and
the hourly token run subscribes whatever is still missing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tts_sync.events import SUBSCRIBED_EVENT_TYPES
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.shops.models import Shop, SubscriptionStatus
from tts_sync.tiktok import ShopAccess, TikTokApiError
from tts_sync.tiktok.retry import Deadline

WEBHOOK_PATH = "/webhooks/tiktok"
# The event types each shop subscribes to: the catalogue's (tts_sync.events) subscribed types.
WEBHOOK_EVENT_TYPES: tuple[str, ...] = SUBSCRIBED_EVENT_TYPES
# Do not start a subscription call with less time left than this; leave it for the hourly run.
MIN_SECONDS_PER_CALL = 2.0


class WebhookSubscriber(Protocol):
    def update_event_webhook(
        self, shop: ShopAccess, event_type: str, address: str, *, deadline: Deadline | None = None
    ) -> None: ...


def webhook_address(base_url: str) -> str:
    return base_url.rstrip("/") + WEBHOOK_PATH


def subscribe_webhooks(
    api: WebhookSubscriber,
    shop: Shop,
    address: str,
    event_types: tuple[str, ...],
    deadline: Deadline,
    *,
    only_missing: bool,
) -> dict[str, SubscriptionStatus]:
    """Subscribe `shop` to `event_types` at `address`; the status of every type afterwards."""
    same_address = shop.webhook_address == address
    statuses = dict(shop.subscriptions) if same_address else {}
    access = shop.access()
    for event_type in event_types:
        if only_missing and statuses.get(event_type) is SubscriptionStatus.SUBSCRIBED:
            continue
        if deadline() < MIN_SECONDS_PER_CALL:
            statuses[event_type] = SubscriptionStatus.PENDING
            continue
        statuses[event_type] = _subscribe_one(api, access, event_type, address, deadline)
    return statuses


def _subscribe_one(
    api: WebhookSubscriber,
    access: ShopAccess,
    event_type: str,
    address: str,
    deadline: Callable[[], float],
) -> SubscriptionStatus:
    try:
        api.update_event_webhook(access, event_type, address, deadline=deadline)
    except TikTokApiError as error:
        logger.warning(
            "webhook subscription failed",
            shop_id=access.shop_id,
            event_type=event_type,
            code=error.code,
            http_status=error.http_status,
        )
        metrics.add_metric(name="WebhookSubscriptionFailed", unit=MetricUnit.Count, value=1)
        return SubscriptionStatus.FAILED
    return SubscriptionStatus.SUBSCRIBED
