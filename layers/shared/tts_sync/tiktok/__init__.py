"""TikTok Shop Partner API client: signing, typed calls, retries and a shared per-shop budget.

Domain-facing names are re-exported here; boto3 lives only in `ratelimit_dynamo`.
Names load on first use (PEP 562, as Powertools' parser models do): `from tts_sync.tiktok import
Deadline` should not import the HTTP client and its thirty models into every function's cold
start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tts_sync.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tts_sync.tiktok.client import TikTokClient
    from tts_sync.tiktok.config import TikTokApiConfig
    from tts_sync.tiktok.errors import (
        AccessTokenExpiredError,
        RateLimitedError,
        RateLimitWaitExceededError,
        TikTokApiError,
        TikTokNotSentError,
        TikTokOutcomeUnknownError,
        TikTokPermanentError,
        TikTokRequestRejectedError,
        TikTokRetryableError,
        TikTokTransportError,
        TikTokUnreadableReplyError,
    )
    from tts_sync.tiktok.ratelimit import BucketPolicy, InMemoryRateLimiter, RateLimiter
    from tts_sync.tiktok.retry import BackoffPolicy, Deadline, deadline_from_lambda_context
    from tts_sync.tiktok.transport import AccessTokenRefresher, ShopAccess, ShopTokenRefresher

__all__ = [
    "AccessTokenExpiredError",
    "AccessTokenRefresher",
    "BackoffPolicy",
    "BucketPolicy",
    "Deadline",
    "InMemoryRateLimiter",
    "RateLimitWaitExceededError",
    "RateLimitedError",
    "RateLimiter",
    "ShopAccess",
    "ShopTokenRefresher",
    "TikTokApiConfig",
    "TikTokApiError",
    "TikTokClient",
    "TikTokNotSentError",
    "TikTokOutcomeUnknownError",
    "TikTokPermanentError",
    "TikTokRequestRejectedError",
    "TikTokRetryableError",
    "TikTokTransportError",
    "TikTokUnreadableReplyError",
    "deadline_from_lambda_context",
]

_SPECIFIC = {
    "TikTokClient": "client",
    "TikTokApiConfig": "config",
    "BucketPolicy": "ratelimit",
    "InMemoryRateLimiter": "ratelimit",
    "RateLimiter": "ratelimit",
    "BackoffPolicy": "retry",
    "Deadline": "retry",
    "deadline_from_lambda_context": "retry",
    "AccessTokenRefresher": "transport",
    "ShopAccess": "transport",
    "ShopTokenRefresher": "transport",
}
__getattr__ = lazy_exports(__name__, {name: _SPECIFIC.get(name, "errors") for name in __all__})
