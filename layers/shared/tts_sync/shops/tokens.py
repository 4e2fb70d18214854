"""Token lifecycle: when to refresh, the refresh itself, the client's on-demand refresher, the
scheduled run over every shop, and the authorization webhooks (type 6 and 7).

Expiries are TikTok's absolute unix timestamps, compared with our clock: a shop is due when
less than `refresh_before_seconds` of access-token life remains. A refresh token that has lapsed,
or one TikTok answers is invalid or expired (REFRESH_TOKEN_REJECTED_CODES, nothing else), marks
the shop `reauthorization_required` (metric) and stops refreshing it until the seller consents
again. Every other failure (retryable, unknown codes, malformed replies, our own wrong
app_secret) is left for the next run: marking a shop needs a person to act, so only TikTok's
answer about the seller's refresh token may do it, and a breaker stops a run from marking more
than `max_refusals` shops at once.

One refresh per grant at a time: a short conditional lease shared by the seller's shops (same
open_id); concurrent callers, sibling shops included, wait, re-read and take the stored tokens.
The token/refresh call is bounded by the lease (it ends LEASE_MARGIN_SECONDS before the lease
lapses), so nobody else can take the lease and send the same refresh token while it runs. A
refresh also hands its tokens to the seller's other shops on the same grant (same open_id and
refresh token), and stores them only over the grant it refreshed: a new consent meanwhile wins.

TikTok may rotate refresh tokens, so token/refresh is not idempotent: after an unknown outcome
(read timeout, 5xx, unreadable answer) the client does not resend it, and the shop is not
marked: it is retried on the next run, counted in TokenRefreshFailed like any failed refresh.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from tts_sync.errors import StorageUnavailableError, TtsSyncError
from tts_sync.events.catalogue import SELLER_DEAUTHORIZATION, UPCOMING_AUTHORIZATION_EXPIRATION
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.shops.models import (
    NEEDS_CONSENT,
    REASON_AUTHORIZATION_EXPIRING,
    REASON_REFRESH_REFUSED,
    REASON_REFRESH_TOKEN_EXPIRED,
    REASON_SELLER_DEAUTHORIZED,
    Shop,
    ShopNotUsableError,
    ShopStatus,
    ShopTokens,
)
from tts_sync.shops.ports import ShopStore
from tts_sync.shops.subscriptions import WebhookSubscriber, subscribe_webhooks
from tts_sync.tiktok import (
    AccessTokenExpiredError,
    TikTokApiError,
    TikTokOutcomeUnknownError,
    TikTokPermanentError,
)
from tts_sync.tiktok.errors import CODE_INVALID_PARAMETER
from tts_sync.tiktok.models import AccessToken
from tts_sync.tiktok.retry import Deadline, deadline_after

DEFAULT_REFRESH_BEFORE_SECONDS = 48 * 3600
# TikTok's answers to token/refresh that mean "this refresh token is no longer valid" (seen live
# and in public SDKs; TikTok's code tables do not list them): only these mark a shop.
CODE_REFRESH_TOKEN_EXPIRED = 36004001  # "rt has expired"
CODE_AUTH_RECORD_NOT_FOUND = 36004005  # "can not find related auth record" (unknown or revoked)
REFRESH_TOKEN_REJECTED_CODES = frozenset({CODE_REFRESH_TOKEN_EXPIRED, CODE_AUTH_RECORD_NOT_FOUND})
# At most this many shops are marked refused by one scheduled run (TTS_TOKEN_MAX_REFUSALS_PER_RUN):
# more at once points at our side (rotated secret, wrong host), not at the sellers.
DEFAULT_MAX_REFUSALS_PER_RUN = 5
# One refresher per grant at a time: a short lease shared by the seller's shops (the store keeps
# it per open_id). The others, sibling shops included, wait up to LEASE_WAIT_SECONDS, re-reading
# the shop, and take the tokens it stores. A lease left by a crashed refresher lapses after
# LEASE_SECONDS.
LEASE_SECONDS = 30
# The token/refresh call ends this long before its lease lapses (clock steps, the write after).
LEASE_MARGIN_SECONDS = 5.0
# The on-demand refresher's breaker counts refusals over this window (per container).
REFUSAL_WINDOW_SECONDS = 3600.0
LEASE_WAIT_SECONDS = 5.0
LEASE_POLL_SECONDS = 0.1
MIN_SECONDS_TO_WAIT = 2.0
# Stop starting new shops in a scheduled run with less time left than this.
MIN_SECONDS_PER_SHOP = 10.0
TYPE_SELLER_DEAUTHORIZATION = SELLER_DEAUTHORIZATION
TYPE_AUTHORIZATION_EXPIRING = UPCOMING_AUTHORIZATION_EXPIRATION


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
    SUPERSEDED = "superseded"  # another refresher or a new consent stored newer tokens meanwhile
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


def refresh_token_rejected(error: TikTokApiError) -> bool:
    """True only when TikTok says the refresh token itself is invalid or expired.

    TikTok answers 36004001/36004005 for that. The sandbox (and older TikTok replies) use the
    generic parameter error 36009004 with a message naming the refresh token; 36009004 also means
    a wrong app_key/app_secret (ours, not the seller's), so it counts only when the message names
    the refresh token and not the app credentials."""
    if error.code in REFRESH_TOKEN_REJECTED_CODES:
        return True
    if error.code == CODE_INVALID_PARAMETER:
        message = (error.message or "").lower()
        names_app = "app_key" in message or "app_secret" in message
        return "refresh_token" in message and not names_app
    return False


class RefusalBreaker:
    """Counts the shops one run marks as needing consent because TikTok refused their refresh
    token; past `limit` it stops marking (logged and counted once as
    TokenRefusalBreakerTripped): the rest are retried next run, because a wave of refusals is
    far more likely our fault (a rotated secret) than every seller's. Refresh tokens that lapsed
    by our own stored expiry are not refusals and are not counted.

    With `window_seconds` (the on-demand refresher, which lives as long as its container) the
    count starts again once the window has passed. Thread-safe."""

    def __init__(
        self,
        limit: int = DEFAULT_MAX_REFUSALS_PER_RUN,
        *,
        window_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.marked = 0
        self.held = 0
        self._window = window_seconds
        self._clock = clock
        self._window_started = clock()
        self._lock = threading.Lock()

    def allow(self, shop_id: str) -> bool:
        with self._lock:
            if self._window is not None and self._clock() - self._window_started >= self._window:
                self._window_started = self._clock()
                self.marked = self.held = 0
            if self.marked < self.limit:
                self.marked += 1
                return True
            self.held += 1
            tripped = self.held == 1
        if tripped:
            logger.error("too many shops refused at once; not marking more", limit=self.limit)
            metrics.add_metric(name="TokenRefusalBreakerTripped", unit=MetricUnit.Count, value=1)
        logger.warning("shop not marked (refusal breaker open)", shop_id=shop_id)
        return False


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
    breaker: RefusalBreaker | None = None,
) -> tuple[RefreshOutcome, Shop]:
    """Refresh one shop's access token if due (or forced); the outcome and the shop after.

    One consent covers all the seller's shops with one grant, so shops share a refresh token.
    `issued` (refresh token -> fresh tokens, in memory for one run) makes the seller's other
    shops take the tokens already issued in this run instead of refreshing the grant again."""
    if shop.tokens is None or shop.status is ShopStatus.DEAUTHORIZED:
        return RefreshOutcome.SKIPPED, shop
    if needs_consent(shop) and not force:
        return RefreshOutcome.SKIPPED, shop
    if not force and not policy.is_due(shop.tokens, now):
        return RefreshOutcome.NOT_DUE, shop
    if shop.tokens.refresh_token_expires_at <= now:
        # Lapsed by our own stored expiry: not a refusal, so not the breaker's business (a
        # cohort lapsing together must not trip a "secret rotated?" alarm).
        _require_reauthorization(store, shop, REASON_REFRESH_TOKEN_EXPIRED, now, None)
        return RefreshOutcome.REAUTHORIZATION_REQUIRED, shop
    refresh_token = shop.tokens.refresh_token.get_secret_value()
    fresh = (issued or {}).get(refresh_token)
    if fresh is not None:  # this run already refreshed the seller's grant for a sibling shop
        return _store_fresh(store, shop, fresh, now)
    holder = secrets.token_hex(8)
    leased, newer = _lease_or_wait(store, shop, holder, now, deadline)
    if newer is not None:
        return _taken_over(shop, newer)
    if not leased:
        logger.warning("another token refresh still running; retrying later", shop_id=shop.shop_id)
        return RefreshOutcome.RETRY_LATER, shop
    try:
        try:
            fresh = issuer.refresh_access_token(refresh_token, deadline=_within_lease(deadline))
        except TikTokApiError as error:
            return _refresh_failed(store, shop, error, now, breaker)
        if issued is not None:
            issued[refresh_token] = fresh
        return _store_fresh(store, shop, fresh, now)
    finally:
        store.release_refresh_lease(shop.shop_id, holder)


def _within_lease(deadline: Deadline) -> Deadline:
    """The caller's deadline, cut to end LEASE_MARGIN_SECONDS before the lease just taken
    lapses: past that, another refresher may take the lease and send the same refresh token."""
    lease_ends = time.monotonic() + LEASE_SECONDS - LEASE_MARGIN_SECONDS
    return lambda: min(deadline(), lease_ends - time.monotonic())


def _store_fresh(
    store: ShopStore, shop: Shop, fresh: AccessToken, now: int
) -> tuple[RefreshOutcome, Shop]:
    assert shop.tokens is not None
    tokens = ShopTokens.from_api(fresh)
    used = shop.tokens.refresh_token.get_secret_value()
    stored = store.save_tokens(shop.shop_id, tokens, now, refreshed_with=used)
    if stored.tokens != tokens:
        # A new consent (or another refresher) replaced the grant we refreshed: keep theirs.
        return _taken_over(shop, stored)
    logger.info(
        "access token refreshed",
        shop_id=shop.shop_id,
        access_token_expires_at=stored.tokens.access_token_expires_at if stored.tokens else None,
    )
    metrics.add_metric(name="TokenRefreshed", unit=MetricUnit.Count, value=1)
    if shop.open_id:
        # The seller's other shops hold the same grant: give them the new tokens too, or they
        # keep tokens that TikTok may no longer honour.
        try:
            siblings = store.save_grant_tokens(
                shop.open_id,
                used,
                tokens,
                now,
                shop.shop_id,
            )
        except StorageUnavailableError as exc:
            # Best effort: this shop's tokens are stored; the siblings refresh on their own.
            logger.warning("sibling shops not updated", shop_id=shop.shop_id, error=str(exc))
            siblings = 0
        if siblings:
            logger.info(
                "sibling shops took the refreshed tokens", shop_id=shop.shop_id, count=siblings
            )
    return RefreshOutcome.REFRESHED, stored


def _refresh_failed(
    store: ShopStore,
    shop: Shop,
    error: TikTokApiError,
    now: int,
    breaker: RefusalBreaker | None,
) -> tuple[RefreshOutcome, Shop]:
    rejected = isinstance(error, TikTokPermanentError) and refresh_token_rejected(error)
    if isinstance(error, TikTokOutcomeUnknownError):
        message = "token refresh answer lost; not resent, retrying next run"
    else:
        message = "token refresh refused" if rejected else "token refresh failed; retrying next run"
    logger.warning(
        message,
        shop_id=shop.shop_id,
        code=error.code,
        http_status=error.http_status,
        error_type=type(error).__name__,
    )
    metrics.add_metric(name="TokenRefreshFailed", unit=MetricUnit.Count, value=1)
    if not rejected:
        return RefreshOutcome.RETRY_LATER, shop
    # A new consent (or another refresher) may have replaced the refresh token we used: then
    # the refusal is about old tokens, not the shop.
    latest = store.get(shop.shop_id)
    if latest is not None and _replaced(shop, latest):
        return _taken_over(shop, latest)
    if not _require_reauthorization(store, shop, REASON_REFRESH_REFUSED, now, breaker):
        return RefreshOutcome.RETRY_LATER, shop
    return RefreshOutcome.REAUTHORIZATION_REQUIRED, shop


def _replaced(shop: Shop, latest: Shop) -> bool:
    return latest.tokens != shop.tokens or latest.status is ShopStatus.DEAUTHORIZED


def _taken_over(shop: Shop, latest: Shop) -> tuple[RefreshOutcome, Shop]:
    if not latest.usable:
        return RefreshOutcome.SKIPPED, latest
    logger.info("tokens already replaced by another refresh or consent", shop_id=shop.shop_id)
    return RefreshOutcome.SUPERSEDED, latest


def _lease_or_wait(
    store: ShopStore, shop: Shop, holder: str, now: int, deadline: Deadline
) -> tuple[bool, Shop | None]:
    """Take the short refresh lease of the shop's grant, or wait for whoever holds it.

    (True, None): ours, refresh. (False, newer shop): someone else stored new tokens (or the
    shop changed) meanwhile, use them. (False, None): still held after the wait."""
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        current = store.acquire_refresh_lease(
            shop.shop_id, holder, now + int(elapsed), LEASE_SECONDS
        )
        if current is not None:
            if _replaced(shop, current):  # finished between our read and the lease
                store.release_refresh_lease(shop.shop_id, holder)
                return False, current
            return True, None
        if elapsed + LEASE_POLL_SECONDS > LEASE_WAIT_SECONDS or deadline() < MIN_SECONDS_TO_WAIT:
            return False, None
        time.sleep(LEASE_POLL_SECONDS)
        latest = store.get(shop.shop_id)
        if latest is None:
            return False, None
        if _replaced(shop, latest):
            return False, latest


def needs_consent(shop: Shop) -> bool:
    """Waiting for the seller to consent again: nothing will refresh these tokens before."""
    return (
        shop.status is ShopStatus.REAUTHORIZATION_REQUIRED and shop.status_reason in NEEDS_CONSENT
    )


def _require_reauthorization(
    store: ShopStore, shop: Shop, reason: str, now: int, breaker: RefusalBreaker | None
) -> bool:
    """Mark the shop as needing consent; False when the breaker held the mark back."""
    if breaker is not None and not breaker.allow(shop.shop_id):
        return False
    # Conditional on no new consent since we read the shop (authorized_at <= now).
    if store.mark(shop.shop_id, ShopStatus.REAUTHORIZATION_REQUIRED, reason, now, event_time=now):
        logger.warning("shop needs re-authorization", shop_id=shop.shop_id, reason=reason)
        metrics.add_metric(name="ShopReauthorizationRequired", unit=MetricUnit.Count, value=1)
    return True


# ---------------------------------------------------------------- the client's refresher


class StoreTokenRefresher:
    """The TikTok client's AccessTokenRefresher, backed by the shop store: a call that gets
    "access token expired" asks here for a fresh token, once, then retries.

    If another caller already stored a newer token, that one is returned without calling
    TikTok; otherwise the refresh token is used and the result stored conditionally. The lease
    wait and the token/refresh call are bounded by min(budget_seconds, the caller's remaining
    deadline), so a refresh inside a short Lambda ends before the Lambda's timeout."""

    def __init__(
        self,
        store: ShopStore,
        issuer: TokenIssuer,
        *,
        clock: Callable[[], float] = time.time,
        budget_seconds: float = 10.0,
        max_refusals: int = DEFAULT_MAX_REFUSALS_PER_RUN,
        refusal_window_seconds: float = REFUSAL_WINDOW_SECONDS,
    ) -> None:
        self._store = store
        self._issuer = issuer
        self._clock = clock
        self._budget_seconds = budget_seconds
        # Calls across the container's shops meet refusals too: at most `max_refusals` shops
        # marked per window, for the same reason as the scheduled run's breaker.
        self._breaker = RefusalBreaker(max_refusals, window_seconds=refusal_window_seconds)

    def __call__(self, expired_access_token: str) -> str:
        # Without the shop we cannot find the tokens: the client passes it on shop calls.
        raise AccessTokenExpiredError("access token expired on a call that names no shop")

    def refresh_shop_token(
        self, shop_id: str, expired_access_token: str, *, deadline: Deadline | None = None
    ) -> str:
        shop = self._store.get(shop_id)
        if shop is None or shop.tokens is None or not shop.usable:
            raise AccessTokenExpiredError(f"shop {shop_id} has no usable tokens to refresh")
        if needs_consent(shop):
            # Refreshing failed before and only the seller can fix it: do not ask TikTok again
            # (nor mark the shop again) on every call that meets an expired token.
            raise AccessTokenExpiredError(f"shop {shop_id} is waiting for the seller's consent")
        now = int(self._clock())
        current = shop.tokens.access_token.get_secret_value()
        if current != expired_access_token and shop.tokens.access_token_expires_at > now:
            return current
        bounded = self._bounded(deadline)
        if bounded() <= 0:
            raise AccessTokenExpiredError(f"no time left to refresh the token of shop {shop_id}")
        outcome, stored = refresh_shop(
            shop,
            store=self._store,
            issuer=self._issuer,
            policy=RefreshPolicy(),
            now=now,
            deadline=bounded,
            force=True,
            breaker=self._breaker,
        )
        taken = (RefreshOutcome.REFRESHED, RefreshOutcome.SUPERSEDED)
        if outcome not in taken or stored.tokens is None:
            raise AccessTokenExpiredError(f"access token of shop {shop_id} could not be refreshed")
        return stored.tokens.access_token.get_secret_value()

    def _bounded(self, caller: Deadline | None) -> Deadline:
        """Our own budget, cut short by the caller's remaining time when it has less."""
        own = deadline_after(self._budget_seconds, self._clock)
        if caller is None:
            return own
        return lambda: min(own(), caller())


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
    superseded: int = 0
    deferred: int = 0  # not reached before the deadline
    subscriptions_repaired: int = 0
    refusals_not_marked: int = 0  # held back by the refusal breaker (retried next run)
    failed_shop_ids: list[str] = field(default_factory=list)
    # The shops the run reached, by status after it (the dashboard's "shops by token status").
    by_status: dict[str, int] = field(default_factory=dict)

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
    max_refusals: int = DEFAULT_MAX_REFUSALS_PER_RUN,
) -> RunReport:
    """Every shop independently: refresh if due, then subscribe missing webhooks."""
    report = RunReport()
    issued: dict[str, AccessToken] = {}
    breaker = RefusalBreaker(max_refusals)
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
                breaker=breaker,
            )
            report.count(outcome)
            report.by_status[current.status.value] = (
                report.by_status.get(current.status.value, 0) + 1
            )
            if outcome is RefreshOutcome.REAUTHORIZATION_REQUIRED or needs_consent(current):
                continue  # its calls would only meet expired tokens until the seller consents
            repaired = _repair_subscriptions(
                store, api, current, webhook_address, event_types, clock, deadline
            )
            report.subscriptions_repaired += int(repaired)
        except Exception:  # one shop's trouble never stops the others
            logger.exception("token run failed for shop", shop_id=shop_id)
            report.errors += 1
            report.failed_shop_ids.append(shop_id)
    report.refusals_not_marked = breaker.held
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
            authorization_expires_at=event.expiration_time,
        )
        if applied:
            logger.warning(
                "shop authorization expiring",
                shop_id=event.shop_id,
                expiration_time=event.expiration_time,
            )
            metrics.add_metric(name="ShopReauthorizationRequired", unit=MetricUnit.Count, value=1)
    else:
        raise ValueError(f"event type {event.type} is not an authorization event")
    if not applied:
        logger.info(
            "authorization event changed nothing (unknown shop, stale, or already applied)",
            shop_id=event.shop_id,
        )
    return applied
