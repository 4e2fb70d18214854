"""Token lifecycle: when to refresh, the refresh itself, the client's on-demand refresher, the
scheduled run over every shop, and the authorization webhooks (type 6 and 7).

Expiries are TikTok's absolute unix timestamps, compared with our clock: a shop is due when
less than `refresh_before_seconds` of access-token life remains. A refresh token that has lapsed,
or a refresh TikTok refuses, marks the shop `reauthorization_required` (metric) and stops
refreshing it until the seller consents again; a retryable failure is left for the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from tts_sync.errors import TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.shops.models import Shop, ShopNotUsableError, ShopStatus, ShopTokens
from tts_sync.shops.ports import ShopStore
from tts_sync.shops.subscriptions import WebhookSubscriber, subscribe_webhooks
from tts_sync.tiktok import (
    AccessTokenExpiredError,
    TikTokPermanentError,
    TikTokRetryableError,
)
from tts_sync.tiktok.models import AccessToken
from tts_sync.tiktok.retry import Deadline, deadline_after

DEFAULT_REFRESH_BEFORE_SECONDS = 48 * 3600
# Reasons that need the seller's consent: the scheduled run stops trying these shops.
REASON_REFRESH_TOKEN_EXPIRED = "refresh_token_expired"  # noqa: S105 - a reason, not a secret
REASON_REFRESH_REFUSED = "refresh_refused"
REASON_AUTHORIZATION_EXPIRING = "authorization_expiring"
REASON_SELLER_DEAUTHORIZED = "seller_deauthorized"
NEEDS_CONSENT = frozenset({REASON_REFRESH_TOKEN_EXPIRED, REASON_REFRESH_REFUSED})
# Stop starting new shops in a scheduled run with less time left than this.
MIN_SECONDS_PER_SHOP = 10.0
TYPE_SELLER_DEAUTHORIZATION = 6
TYPE_AUTHORIZATION_EXPIRING = 7


class TokenIssuer(Protocol):
    def refresh_access_token(
        self, refresh_token: str, *, deadline: Deadline | None = None
    ) -> AccessToken: ...


class ShopApi(TokenIssuer, WebhookSubscriber, Protocol):
    pass


class RefreshOutcome(StrEnum):
    REFRESHED = "refreshed"
    NOT_DUE = "not_due"
    REAUTHORIZATION_REQUIRED = "reauthorization_required"
    RETRY_LATER = "retry_later"
    SKIPPED = "skipped"  # deauthorized, no tokens, or already waiting for consent


@dataclass(frozen=True)
class RefreshPolicy:
    refresh_before_seconds: int = DEFAULT_REFRESH_BEFORE_SECONDS

    def is_due(self, tokens: ShopTokens, now: int) -> bool:
        return tokens.access_token_expires_at - now < self.refresh_before_seconds


class UnknownShopError(TtsSyncError):
    def __init__(self, shop_id: str) -> None:
        super().__init__(f"no shop with shop_id {shop_id!r} is stored")
        self.shop_id = shop_id


def refresh_shop(
    shop: Shop,
    *,
    store: ShopStore,
    issuer: TokenIssuer,
    policy: RefreshPolicy,
    now: int,
    deadline: Deadline,
    force: bool = False,
    issued: dict[str, AccessToken] | None = None,
) -> tuple[RefreshOutcome, Shop]:
    """Refresh one shop's access token if due (or forced); the outcome and the shop after.

    One consent covers all the seller's shops with one grant, so shops share a refresh token.
    `issued` (refresh token -> fresh tokens, in memory for one run) makes the seller's other
    shops take the tokens already issued in this run instead of refreshing the grant again."""
    if shop.tokens is None or shop.status is ShopStatus.DEAUTHORIZED:
        return RefreshOutcome.SKIPPED, shop
    waiting = shop.status is ShopStatus.REAUTHORIZATION_REQUIRED
    if waiting and shop.status_reason in NEEDS_CONSENT and not force:
        return RefreshOutcome.SKIPPED, shop
    if not force and not policy.is_due(shop.tokens, now):
        return RefreshOutcome.NOT_DUE, shop
    if shop.tokens.refresh_token_expires_at <= now:
        _require_reauthorization(store, shop, REASON_REFRESH_TOKEN_EXPIRED, now)
        return RefreshOutcome.REAUTHORIZATION_REQUIRED, shop
    refresh_token = shop.tokens.refresh_token.get_secret_value()
    try:
        fresh = (issued or {}).get(refresh_token) or issuer.refresh_access_token(
            refresh_token, deadline=deadline
        )
    except TikTokRetryableError as error:
        logger.warning(
            "token refresh failed; retrying next run",
            shop_id=shop.shop_id,
            code=error.code,
            http_status=error.http_status,
        )
        metrics.add_metric(name="TokenRefreshFailed", unit=MetricUnit.Count, value=1)
        return RefreshOutcome.RETRY_LATER, shop
    except TikTokPermanentError as error:
        logger.warning(
            "token refresh refused", shop_id=shop.shop_id, code=error.code, reason=error.message
        )
        metrics.add_metric(name="TokenRefreshFailed", unit=MetricUnit.Count, value=1)
        _require_reauthorization(store, shop, REASON_REFRESH_REFUSED, now)
        return RefreshOutcome.REAUTHORIZATION_REQUIRED, shop
    if issued is not None:
        issued[refresh_token] = fresh
    stored = store.save_tokens(shop.shop_id, ShopTokens.from_api(fresh), now)
    logger.info(
        "access token refreshed",
        shop_id=shop.shop_id,
        access_token_expires_at=stored.tokens.access_token_expires_at if stored.tokens else None,
    )
    metrics.add_metric(name="TokenRefreshed", unit=MetricUnit.Count, value=1)
    return RefreshOutcome.REFRESHED, stored


def _require_reauthorization(store: ShopStore, shop: Shop, reason: str, now: int) -> None:
    # Conditional on no new consent since we read the shop (authorized_at <= now).
    if store.mark(shop.shop_id, ShopStatus.REAUTHORIZATION_REQUIRED, reason, now, event_time=now):
        logger.warning("shop needs re-authorization", shop_id=shop.shop_id, reason=reason)
        metrics.add_metric(name="ShopReauthorizationRequired", unit=MetricUnit.Count, value=1)


# ---------------------------------------------------------------- the client's refresher


class StoreTokenRefresher:
    """The TikTok client's AccessTokenRefresher, backed by the shop store: a call that gets
    "access token expired" asks here for a fresh token, once, then retries.

    If another caller already stored a newer token, that one is returned without calling
    TikTok; otherwise the refresh token is used and the result stored conditionally."""

    def __init__(
        self,
        store: ShopStore,
        issuer: TokenIssuer,
        *,
        clock: Callable[[], float] = time.time,
        budget_seconds: float = 10.0,
    ) -> None:
        self._store = store
        self._issuer = issuer
        self._clock = clock
        self._budget_seconds = budget_seconds

    def __call__(self, expired_access_token: str) -> str:
        # Without the shop we cannot find the tokens: the client passes it on shop calls.
        raise AccessTokenExpiredError("access token expired on a call that names no shop")

    def refresh_shop_token(self, shop_id: str, expired_access_token: str) -> str:
        shop = self._store.get(shop_id)
        if shop is None or shop.tokens is None or not shop.usable:
            raise AccessTokenExpiredError(f"shop {shop_id} has no usable tokens to refresh")
        now = int(self._clock())
        current = shop.tokens.access_token.get_secret_value()
        if current != expired_access_token and shop.tokens.access_token_expires_at > now:
            return current
        outcome, stored = refresh_shop(
            shop,
            store=self._store,
            issuer=self._issuer,
            policy=RefreshPolicy(),
            now=now,
            deadline=deadline_after(self._budget_seconds, self._clock),
            force=True,
        )
        if outcome is not RefreshOutcome.REFRESHED or stored.tokens is None:
            raise AccessTokenExpiredError(f"access token of shop {shop_id} could not be refreshed")
        return stored.tokens.access_token.get_secret_value()


# ---------------------------------------------------------------- the scheduled run


@dataclass
class RunReport:
    shops: int = 0
    refreshed: int = 0
    not_due: int = 0
    reauthorization_required: int = 0
    retry_later: int = 0
    skipped: int = 0
    errors: int = 0
    deferred: int = 0  # not reached before the deadline
    subscriptions_repaired: int = 0
    failed_shop_ids: list[str] = field(default_factory=list)

    def count(self, outcome: RefreshOutcome) -> None:
        name = outcome.value
        setattr(self, name, getattr(self, name) + 1)


def run_scheduled(
    *,
    store: ShopStore,
    api: ShopApi,
    policy: RefreshPolicy,
    clock: Callable[[], float],
    deadline: Deadline,
    webhook_address: str,
    event_types: tuple[str, ...],
) -> RunReport:
    """Every shop independently: refresh if due, then subscribe missing webhooks."""
    report = RunReport()
    issued: dict[str, AccessToken] = {}
    for shop_id in store.shop_ids():
        report.shops += 1
        if deadline() < MIN_SECONDS_PER_SHOP:
            report.deferred += 1
            continue
        try:
            shop = store.get(shop_id)
            if shop is None:  # deleted since the scan
                report.skipped += 1
                continue
            outcome, current = refresh_shop(
                shop,
                store=store,
                issuer=api,
                policy=policy,
                now=int(clock()),
                deadline=deadline,
                issued=issued,
            )
            report.count(outcome)
            repaired = _repair_subscriptions(
                store, api, current, webhook_address, event_types, clock, deadline
            )
            report.subscriptions_repaired += int(repaired)
        except Exception:  # one shop's trouble never stops the others
            logger.exception("token run failed for shop", shop_id=shop_id)
            report.errors += 1
            report.failed_shop_ids.append(shop_id)
    return report


def _repair_subscriptions(
    store: ShopStore,
    api: WebhookSubscriber,
    shop: Shop,
    configured_address: str,
    event_types: tuple[str, ...],
    clock: Callable[[], float],
    deadline: Deadline,
) -> bool:
    """Subscribe what is missing (failed or pending at onboarding); True if all are now in."""
    address = configured_address or shop.webhook_address
    if not shop.usable or not address:
        return False
    if address == shop.webhook_address and not shop.missing_subscriptions(event_types):
        return False
    statuses = subscribe_webhooks(api, shop, address, event_types, deadline, only_missing=True)
    store.save_subscriptions(shop.shop_id, address, statuses, int(clock()))
    repaired = all(statuses.get(t) == "subscribed" for t in event_types)
    logger.info("webhook subscriptions retried", shop_id=shop.shop_id, complete=repaired)
    return repaired


def refresh_one(
    shop_id: str,
    *,
    store: ShopStore,
    api: TokenIssuer,
    clock: Callable[[], float],
    deadline: Deadline,
) -> RefreshOutcome:
    """Ops: force a refresh of one shop now (console test event {"shop_id": "..."})."""
    shop = store.get(shop_id)
    if shop is None:
        raise UnknownShopError(shop_id)
    if not shop.usable:
        raise ShopNotUsableError(shop_id, shop.status)
    outcome, _ = refresh_shop(
        shop,
        store=store,
        issuer=api,
        policy=RefreshPolicy(),
        now=int(clock()),
        deadline=deadline,
        force=True,
    )
    return outcome


# ---------------------------------------------------------------- authorization webhooks


@dataclass(frozen=True)
class AuthorizationEvent:
    type: int
    shop_id: str
    timestamp: int
    expiration_time: int | None = None


def handle_authorization_event(store: ShopStore, event: AuthorizationEvent, now: int) -> bool:
    """Type 6: the seller removed the app -> deauthorized, tokens dropped. Type 7: the
    authorization expires soon -> reauthorization_required (tokens keep working until then).
    Events older than the shop's last consent are stale and change nothing. True if applied."""
    if event.type == TYPE_SELLER_DEAUTHORIZATION:
        applied = store.mark(
            event.shop_id,
            ShopStatus.DEAUTHORIZED,
            REASON_SELLER_DEAUTHORIZED,
            now,
            event_time=event.timestamp,
        )
        if applied:
            logger.warning("shop deauthorized by the seller", shop_id=event.shop_id)
            metrics.add_metric(name="ShopDeauthorized", unit=MetricUnit.Count, value=1)
    elif event.type == TYPE_AUTHORIZATION_EXPIRING:
        applied = store.mark(
            event.shop_id,
            ShopStatus.REAUTHORIZATION_REQUIRED,
            REASON_AUTHORIZATION_EXPIRING,
            now,
            event_time=event.timestamp,
        )
        if applied:
            if event.expiration_time is not None:
                store.set_authorization_expiry(event.shop_id, event.expiration_time, now)
            logger.warning(
                "shop authorization expiring",
                shop_id=event.shop_id,
                expiration_time=event.expiration_time,
            )
            metrics.add_metric(name="ShopReauthorizationRequired", unit=MetricUnit.Count, value=1)
    else:
        raise ValueError(f"event type {event.type} is not an authorization event")
    if not applied:
        logger.info("authorization event ignored (unknown shop or stale)", shop_id=event.shop_id)
    return applied
