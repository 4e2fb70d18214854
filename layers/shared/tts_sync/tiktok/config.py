"""Settings of the TikTok Shop API client, read from the environment (see tts_sync.config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_API_BASE_URL = "https://open-api.tiktokglobalshop.com"
DEFAULT_AUTH_BASE_URL = "https://auth.tiktok-shops.com"


class TikTokApiConfig(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    api_base_url: str = Field(default=DEFAULT_API_BASE_URL, alias="TTS_API_BASE_URL")
    auth_base_url: str = Field(default=DEFAULT_AUTH_BASE_URL, alias="TTS_AUTH_BASE_URL")
    connect_timeout: float = Field(default=2.0, alias="TTS_API_CONNECT_TIMEOUT", gt=0)
    read_timeout: float = Field(default=8.0, alias="TTS_API_READ_TIMEOUT", gt=0)
    # Budget of one call (all retries) when the caller gives no deadline.
    default_deadline_seconds: float = Field(default=30.0, alias="TTS_API_DEADLINE_SECONDS", gt=0)
    # A request is sent only with at least this much of the deadline left; below it the call
    # raises TikTokNotSentError (safe to repeat): a request sent with a few milliseconds to
    # live is all but certain to end with an unknown outcome.
    min_send_seconds: float = Field(default=1.0, alias="TTS_API_MIN_SEND_SECONDS", ge=0)
    # The docs give 1..99,999 for stock; whether 0 is accepted is unconfirmed, so it is a
    # setting: "send" passes 0 through, "reject" refuses it before calling TikTok.
    stock_zero_policy: Literal["send", "reject"] = Field(
        default="send", alias="TTS_STOCK_ZERO_POLICY"
    )
    # Endpoints TikTok publishes in later versions than 202309: the version is chosen per
    # endpoint (a new version is a setting, not a code change).
    product_search_version: str = Field(
        default="202502", alias="TTS_PRODUCT_SEARCH_VERSION", pattern=r"^20[0-9]{4}$"
    )
    product_detail_version: str = Field(
        default="202309", alias="TTS_PRODUCT_DETAIL_VERSION", pattern=r"^20[0-9]{4}$"
    )
