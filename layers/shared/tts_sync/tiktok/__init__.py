"""TikTok Shop Partner API client: signing, typed calls, retries and a shared per-shop budget.

Domain-facing names are re-exported here; boto3 lives only in `ratelimit_dynamo`.
"""

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
