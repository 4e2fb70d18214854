"""Configuration and the container-wide wiring of the shop functions: cached factories, and a
dependency override for tests (as in tts_sync.webhooks.http).

`shop_api_client()` is the TikTok client later functions should use: shared per-shop rate
limit (DynamoDB) and an access-token refresher backed by the shop store, so a call that meets
"access token expired" refreshes once and retries with no code in the caller. A function using
it needs GetItem, UpdateItem and Scan (the grant's sibling shops) on the Shops table, and the
key's Decrypt/GenerateDataKey*/DescribeKey through DynamoDB. It follows credential rotations.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from tts_sync.aws import dynamodb_client
from tts_sync.config import load_config
from tts_sync.container import container_cached
from tts_sync.credentials import credentials_provider
from tts_sync.observability import logger
from tts_sync.shops.dynamo_store import DynamoOAuthStateStore, DynamoShopStore
from tts_sync.shops.ports import OAuthStateStore, ShopStore
from tts_sync.shops.subscriptions import WEBHOOK_EVENT_TYPES
from tts_sync.shops.tokens import (
    DEFAULT_MAX_REFUSALS_PER_RUN,
    DEFAULT_REFRESH_BEFORE_SECONDS,
    StoreTokenRefresher,
)
from tts_sync.tiktok.ratelimit_dynamo import dynamo_rate_limiter
from tts_sync.wiring import Wiring

if TYPE_CHECKING:
    from tts_sync.tiktok import TikTokClient

DEFAULT_AUTHORIZE_URL = "https://services.tiktokshop.com/open/authorize"


class ShopsConfig(BaseModel):
    shops_table_name: str = Field(alias="SHOPS_TABLE_NAME", min_length=1)
    # Public https base of the HTTP API (custom domain); empty: derived from the request.
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")


class OAuthConfig(ShopsConfig):
    oauth_state_table_name: str = Field(alias="OAUTH_STATE_TABLE_NAME", min_length=1)
    authorize_url: str = Field(
        default=DEFAULT_AUTHORIZE_URL, alias="TTS_AUTHORIZE_URL", pattern=r"^https?://"
    )
    service_id: str = Field(default="", alias="TTS_SERVICE_ID")


class TokenRefreshConfig(ShopsConfig):
    refresh_before_seconds: int = Field(
        default=DEFAULT_REFRESH_BEFORE_SECONDS, alias="TTS_TOKEN_REFRESH_BEFORE_SECONDS", gt=0
    )
    # A run marks at most this many shops "refused"; more at once is more likely our fault.
    max_refusals_per_run: int = Field(
        default=DEFAULT_MAX_REFUSALS_PER_RUN, alias="TTS_TOKEN_MAX_REFUSALS_PER_RUN", ge=0
    )


@dataclass(frozen=True)
class ShopDependencies:
    shops: ShopStore
    client: TikTokClient  # its app_key identifies the app on the consent page
    states: OAuthStateStore | None = None
    event_types: tuple[str, ...] = WEBHOOK_EVENT_TYPES
    clock: Callable[[], float] = time.time


@container_cached
def shop_store() -> DynamoShopStore:
    return DynamoShopStore(dynamodb_client(), load_config(ShopsConfig).shops_table_name)


@container_cached
def _client_slot() -> dict[str, Any]:
    # The current client and a fingerprint of the credentials it was built with.
    return {}


def shop_api_client() -> TikTokClient:
    """Container-wide TikTok client with the shared rate limit and the store-backed refresher.

    Rebuilt when the app credentials change: the provider re-reads the secret after its max_age,
    and a warm container must not keep signing with a secret that was rotated out."""
    # Imported with the first client: the HTTP stack loads when a call to TikTok is near.
    from tts_sync.tiktok import TikTokApiConfig, TikTokClient

    credentials = credentials_provider().get()
    fingerprint = hashlib.sha256(
        f"{credentials.app_key}\0{credentials.app_secret.get_secret_value()}".encode()
    ).hexdigest()
    slot = _client_slot()
    current: TikTokClient | None = slot.get("client")
    if current is not None and slot.get("fingerprint") == fingerprint:
        return current
    client = TikTokClient(
        credentials.app_key,
        credentials.app_secret.get_secret_value(),
        config=load_config(TikTokApiConfig),
        limiter=dynamo_rate_limiter(),
    )
    # The on-demand refresher's refusal breaker uses the scheduled run's limit (per hour).
    max_refusals = load_config(TokenRefreshConfig).max_refusals_per_run
    client.token_refresher = StoreTokenRefresher(shop_store(), client, max_refusals=max_refusals)
    if current is not None:
        logger.info("app credentials changed; TikTok client rebuilt")
        current.close()
    slot.update(client=client, fingerprint=fingerprint)
    return client


@container_cached
def _oauth_state_store() -> DynamoOAuthStateStore:
    return DynamoOAuthStateStore(dynamodb_client(), load_config(OAuthConfig).oauth_state_table_name)


def _default_dependencies(with_states: bool = False) -> ShopDependencies:
    # Not cached as a whole: the client follows credential rotations (shop_api_client).
    client = shop_api_client()
    states = _oauth_state_store() if with_states else None
    return ShopDependencies(shops=shop_store(), client=client, states=states)


shop_wiring = Wiring(_default_dependencies, cached=False)
override_dependencies = shop_wiring.override


def shop_dependencies(*, with_states: bool = False) -> ShopDependencies:
    """The shop functions' dependencies; `with_states` adds the OAuth state store (only the
    OAuth function has that table)."""
    if with_states and not shop_wiring.overridden:
        return _default_dependencies(with_states=True)
    return shop_wiring()


def shops_only() -> tuple[ShopStore, Callable[[], float]]:
    """The shop store and clock alone: no TikTok client, so no Secrets Manager read (the
    type-6/7 stream records only mark shops)."""
    if shop_wiring.overridden:
        dependencies = shop_wiring()
        return dependencies.shops, dependencies.clock
    return shop_store(), time.time
