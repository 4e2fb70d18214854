"""Shops, their tokens and OAuth states. Tokens are SecretStr: never in a repr, log or error."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tts_sync.errors import TtsSyncError
from tts_sync.tiktok import ShopAccess
from tts_sync.tiktok.models import AccessToken


class ShopStatus(StrEnum):
    ACTIVE = "active"
    # The seller must consent again (refresh token lapsed or refused, or TikTok warned that the
    # authorization expires). Tokens still valid keep being used and refreshed until they lapse.
    REAUTHORIZATION_REQUIRED = "reauthorization_required"
    # The seller removed the app (type-6 webhook): tokens are dropped, nothing calls TikTok.
    DEAUTHORIZED = "deauthorized"


# Why a shop is REAUTHORIZATION_REQUIRED (status_reason). The first two come from refreshing
# and need the seller's consent (nothing refreshes these shops); a later successful refresh of
# the grant clears them. The type-7 warning leaves the tokens working until they lapse.
REASON_REFRESH_TOKEN_EXPIRED = "refresh_token_expired"  # noqa: S105 - a reason, not a secret  # nosec B105
REASON_REFRESH_REFUSED = "refresh_refused"
REASON_AUTHORIZATION_EXPIRING = "authorization_expiring"
REASON_SELLER_DEAUTHORIZED = "seller_deauthorized"
NEEDS_CONSENT = frozenset({REASON_REFRESH_TOKEN_EXPIRED, REASON_REFRESH_REFUSED})


class SubscriptionStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    FAILED = "failed"
    PENDING = "pending"  # not tried yet (the callback ran out of time); the hourly run does it


class ShopTokens(BaseModel):
    """One seller grant's tokens; both expiries are absolute unix seconds, as TikTok sends them."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    access_token: SecretStr
    access_token_expires_at: int
    refresh_token: SecretStr
    refresh_token_expires_at: int

    @classmethod
    def from_api(cls, token: AccessToken) -> ShopTokens:
        return cls(
            access_token=SecretStr(token.access_token),
            access_token_expires_at=token.access_token_expire_in,
            refresh_token=SecretStr(token.refresh_token),
            refresh_token_expires_at=token.refresh_token_expire_in,
        )


class Shop(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    shop_id: str = Field(min_length=1)
    cipher: str
    name: str = ""
    region: str = ""
    code: str = ""
    open_id: str = ""
    seller_name: str = ""
    status: ShopStatus = ShopStatus.ACTIVE
    status_reason: str = ""
    tokens: ShopTokens | None = None
    authorized_at: int = 0  # unix seconds of the last consent: older type-6/7 events are stale
    authorization_expires_at: int | None = None  # from the type-7 webhook, when TikTok warned
    webhook_address: str = ""
    subscriptions: dict[str, SubscriptionStatus] = Field(default_factory=dict)
    updated_at: int = 0
    version: int = 0

    @property
    def usable(self) -> bool:
        """Tokens may be used for calls (not deauthorized, tokens present)."""
        return self.status is not ShopStatus.DEAUTHORIZED and self.tokens is not None

    def access(self) -> ShopAccess:
        """What the TikTok client needs for a shop-scoped call."""
        if self.tokens is None or self.status is ShopStatus.DEAUTHORIZED:
            raise ShopNotUsableError(self.shop_id, self.status)
        return ShopAccess(self.shop_id, self.cipher, self.tokens.access_token.get_secret_value())

    def missing_subscriptions(self, event_types: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(
            t for t in event_types if self.subscriptions.get(t) is not SubscriptionStatus.SUBSCRIBED
        )


class OAuthState(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    state: str = Field(repr=False)
    created_at: int
    expires_at: int


class ShopNotUsableError(TtsSyncError):
    """The shop has no usable tokens (deauthorized, or never stored)."""

    def __init__(self, shop_id: str, status: ShopStatus | None) -> None:
        super().__init__(f"shop {shop_id} has no usable tokens (status={status})")
        self.shop_id = shop_id
        self.status = status
