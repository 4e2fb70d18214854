"""Ports of the shop domain: where shops and OAuth states live. Adapters: dynamo_store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tts_sync.shops.models import OAuthState, Shop, ShopStatus, ShopTokens, SubscriptionStatus


class ShopStore(Protocol):
    def get(self, shop_id: str) -> Shop | None: ...

    def shop_ids(self) -> list[str]:
        """Every stored shop id, soonest-expiring access token first (the scheduled run then
        reads each shop on its own)."""
        ...

    def save_authorization(self, shop: Shop) -> Shop:
        """Create or update (in place) a shop after the seller's consent: identity, tokens,
        status active. The consent's tokens always replace the stored ones."""
        ...

    def save_tokens(
        self, shop_id: str, tokens: ShopTokens, now: int, *, refreshed_with: str | None = None
    ) -> Shop:
        """Store refreshed tokens unless newer ones are already stored and, with
        `refreshed_with` (the refresh token the refresh used), only while the shop still holds
        that grant: a new consent stored meanwhile is kept. Returns the shop as stored
        afterwards (with whichever tokens won). ShopNotUsableError if deauthorized. A shop
        waiting for consent because a refresh failed (refresh_token_expired, refresh_refused)
        becomes active again in the same write; other reasons stay."""
        ...

    def save_grant_tokens(
        self, open_id: str, refresh_token: str, tokens: ShopTokens, now: int, except_shop_id: str
    ) -> int:
        """Store `tokens` (as save_tokens, conditional on `refresh_token`) on every other shop
        of the seller `open_id` that still holds `refresh_token` (the same grant); how many were
        updated."""
        ...

    def acquire_refresh_lease(
        self, shop_id: str, holder: str, now: int, seconds: int
    ) -> Shop | None:
        """Take the refresh lease of the shop's grant for `seconds` unless someone else holds
        an unexpired one: one lease for all the seller's shops (open_id), so siblings sharing a
        grant never refresh it twice. The shop as stored once taken, None when held (or no
        such shop)."""
        ...

    def release_refresh_lease(self, shop_id: str, holder: str) -> None:
        """Give the lease back (no-op if it lapsed and someone else took it)."""
        ...

    def save_subscriptions(
        self, shop_id: str, address: str, subscriptions: Mapping[str, SubscriptionStatus], now: int
    ) -> None: ...

    def mark(
        self,
        shop_id: str,
        status: ShopStatus,
        reason: str,
        now: int,
        *,
        event_time: int | None,
        authorization_expires_at: int | None = None,
    ) -> bool:
        """Set the status (deauthorized also drops the tokens) and, if given, when the
        authorization expires, in one write. With `event_time`, only if the shop was not
        authorized again after it. False when the shop is unknown, the event stale, or nothing
        would change (same status, reason and expiry)."""
        ...


class OAuthStateStore(Protocol):
    def put(self, state: OAuthState) -> None: ...

    def consume(self, state: str) -> OAuthState | None:
        """Delete and return the state in one step (single use); None if unknown or used."""
        ...
