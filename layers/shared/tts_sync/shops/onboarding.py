"""Seller consent: GET /oauth/tiktok/start and GET /oauth/tiktok/callback, as domain logic.

The state is unguessable (32 random bytes), single use (consumed by one conditional delete
before anything else happens) and expires after 10 minutes (TTL, and checked here because TTL
deletion lags). It is consumed FIRST, even when TikTok then turns out to be unavailable: an
auth code is single use too, so a retry of the same callback could not succeed anyway; the
seller restarts from /start, and the error page says so. For the same reason the code is never
resent to token/get after an unknown outcome (a read timeout, a 5xx): TikTok may already have
spent it, and a resend would only be refused; the seller gets the "start again" page, which says
that the answer was lost.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode

from pydantic import ValidationError

from tts_sync.errors import TtsSyncError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.shops.models import OAuthState, Shop, ShopTokens
from tts_sync.shops.ports import OAuthStateStore, ShopStore
from tts_sync.shops.subscriptions import WebhookSubscriber, subscribe_webhooks
from tts_sync.tiktok import (
    TikTokOutcomeUnknownError,
    TikTokPermanentError,
    TikTokRetryableError,
)
from tts_sync.tiktok.models import AccessToken, AuthorizedShop
from tts_sync.tiktok.retry import Deadline

STATE_TTL_SECONDS = 600
CALLBACK_PATH = "/oauth/tiktok/callback"
# What secrets.token_urlsafe(32) produces. Anything else is refused before it reaches DynamoDB
# (which rejects keys over 2048 bytes with a ValidationException: a 503 instead of a 400).
STATE_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


class OAuthStateRejectedError(TtsSyncError):
    """Missing, unknown, reused or expired state (or no code): nothing is stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthorizationDeclinedError(TtsSyncError):
    """The seller came back without a code (declined consent on TikTok's page)."""


class AuthorizationRefusedError(TtsSyncError):
    """TikTok refused the code (expired, used, or not ours): the seller must start again."""


class TikTokUnavailableError(TtsSyncError):
    """TikTok did not answer usably (5xx, timeout, throttled): try again later."""


class AuthorizationAnswerLostError(TikTokUnavailableError):
    """token/get was sent but its answer was lost (read timeout, 5xx, unreadable): TikTok may
    have issued tokens and spent the single-use code, so it is not resent; the seller starts
    again (a new consent gives a new code)."""


class OnboardingApi(WebhookSubscriber, Protocol):
    def get_access_token(
        self, auth_code: str, *, deadline: Deadline | None = None
    ) -> AccessToken: ...

    def get_authorized_shops(
        self, access_token: str, *, deadline: Deadline | None = None
    ) -> list[AuthorizedShop]: ...


@dataclass(frozen=True)
class AuthorizeSettings:
    authorize_url: str
    app_key: str
    service_id: str = ""


@dataclass(frozen=True)
class ConnectedShop:
    shop_id: str
    name: str
    region: str
    reauthorized: bool
    failed_subscriptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectionResult:
    shops: list[ConnectedShop] = field(default_factory=list)


def start_authorization(
    states: OAuthStateStore, settings: AuthorizeSettings, redirect_uri: str, now: int
) -> str:
    """Store a fresh state and return the seller authorization URL to redirect to."""
    state = OAuthState(
        state=secrets.token_urlsafe(32), created_at=now, expires_at=now + STATE_TTL_SECONDS
    )
    states.put(state)
    # The real consent page identifies the app by service_id (the redirect URL is registered
    # in Partner Center); app_key and redirect_uri are what the sandbox and older flows use.
    query = {"state": state.state, "redirect_uri": redirect_uri}
    if settings.service_id:
        query["service_id"] = settings.service_id
    else:
        query["app_key"] = settings.app_key
    separator = "&" if "?" in settings.authorize_url else "?"
    return settings.authorize_url + separator + urlencode(query)


def complete_authorization(
    code: str | None,
    state: str | None,
    *,
    states: OAuthStateStore,
    shops: ShopStore,
    api: OnboardingApi,
    webhook_address: str,
    event_types: Sequence[str],
    now: int,
    deadline: Deadline,
) -> ConnectionResult:
    """Check the state, exchange the code, store every authorized shop, subscribe webhooks."""
    if not state:
        raise OAuthStateRejectedError("missing state")
    if STATE_PATTERN.fullmatch(state) is None:
        raise OAuthStateRejectedError("malformed state")
    stored_state = states.consume(state)
    if stored_state is None:
        raise OAuthStateRejectedError("unknown or already used state")
    if stored_state.expires_at <= now:
        raise OAuthStateRejectedError("expired state")
    if not code:
        raise AuthorizationDeclinedError("no authorization code: consent was declined")
    try:
        token = api.get_access_token(code, deadline=deadline)
        authorized = api.get_authorized_shops(token.access_token, deadline=deadline)
    except TikTokOutcomeUnknownError as error:
        raise AuthorizationAnswerLostError(str(error)) from None
    except TikTokRetryableError as error:
        raise TikTokUnavailableError(str(error)) from None
    except TikTokPermanentError as error:
        raise AuthorizationRefusedError(error.message) from None
    except ValidationError as error:
        # A reply missing fields: name them, never the values (they may hold tokens).
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
        raise TikTokUnavailableError(f"malformed reply from TikTok Shop: {fields}") from None
    tokens = ShopTokens.from_api(token)
    result = ConnectionResult()
    for authorized_shop in authorized:
        result.shops.append(
            _connect_shop(
                authorized_shop,
                token,
                tokens,
                shops=shops,
                api=api,
                webhook_address=webhook_address,
                event_types=tuple(event_types),
                now=now,
                deadline=deadline,
            )
        )
    return result


def _connect_shop(
    authorized: AuthorizedShop,
    token: AccessToken,
    tokens: ShopTokens,
    *,
    shops: ShopStore,
    api: OnboardingApi,
    webhook_address: str,
    event_types: tuple[str, ...],
    now: int,
    deadline: Deadline,
) -> ConnectedShop:
    reauthorized = shops.get(authorized.id) is not None
    stored = shops.save_authorization(
        Shop(
            shop_id=authorized.id,
            cipher=authorized.cipher,
            name=authorized.name,
            region=authorized.region,
            code=authorized.code,
            open_id=token.open_id,
            seller_name=token.seller_name,
            tokens=tokens,
            authorized_at=now,
            updated_at=now,
        )
    )
    logger.info("shop connected", shop_id=stored.shop_id, reauthorized=reauthorized)
    metrics.add_metric(name="ShopConnected", unit=MetricUnit.Count, value=1)
    statuses = subscribe_webhooks(
        api, stored, webhook_address, event_types, deadline, only_missing=False
    )
    shops.save_subscriptions(stored.shop_id, webhook_address, statuses, now)
    failed = tuple(t for t in event_types if statuses.get(t) != "subscribed")
    return ConnectedShop(
        shop_id=stored.shop_id,
        name=stored.name,
        region=stored.region,
        reauthorized=reauthorized,
        failed_subscriptions=failed,
    )
