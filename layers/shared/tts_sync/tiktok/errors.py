"""Typed errors of the TikTok Shop API client.

Callers branch on the class only: TikTokRetryableError means "the same call may succeed later"
(throttling, 5xx, TikTok's internal/timeout codes, network trouble); TikTokPermanentError means
"fix the request, the token or the scope first". AccessTokenExpiredError is permanent for the
caller (the client already refreshed once) but typed apart so a token store can react to it.

Calls that must not be applied twice (shipping a package, correcting tracking) are retried only
after failures TikTok certainly did not process (`certainly_not_processed`); any other retryable
failure of such a call surfaces as TikTokOutcomeUnknownError: check the result before repeating.
"""

from __future__ import annotations

from tts_sync.errors import TtsSyncError

CODE_SUCCESS = 0
CODE_ACCESS_TOKEN_EXPIRED = 105002
CODE_MISSING_SCOPE = 105005
CODE_INVALID_SIGN = 106001
CODE_SHOP_CIPHER_REQUIRED = 106013
CODE_RATE_LIMITED = 36009002
CODE_INTERNAL_ERROR = 36009003
CODE_INVALID_PARAMETER = 36009004
CODE_GATEWAY_TIMEOUT = 36009007

RETRYABLE_CODES = frozenset({CODE_RATE_LIMITED, CODE_INTERNAL_ERROR, CODE_GATEWAY_TIMEOUT})


class TikTokApiError(TtsSyncError):
    """A call to TikTok Shop failed. Carries what TikTok said, never request secrets."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.http_status = http_status

    def __str__(self) -> str:
        return (
            f"{self.message} (code={self.code}, http_status={self.http_status}, "
            f"request_id={self.request_id})"
        )


class TikTokRetryableError(TikTokApiError):
    """Transient: the same request may succeed after a back-off."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, request_id=request_id, http_status=http_status)
        # Seconds TikTok asked us to wait (Retry-After), if it said.
        self.retry_after = retry_after


class RateLimitedError(TikTokRetryableError):
    """HTTP 429 / code 36009002: the shop's budget is spent."""


class TikTokTransportError(TikTokRetryableError):
    """No usable answer: timeout, connection refused or reset."""


class TikTokNotSentError(TikTokTransportError):
    """The request never reached TikTok: the connection was refused or could not be opened in
    time, or the deadline ran out before sending. Safe to repeat, even for a call that is not."""


class TikTokOutcomeUnknownError(TikTokRetryableError):
    """A call that is not safe to repeat failed after TikTok may already have applied it (read
    timeout, dropped connection, 5xx, 36009003/36009007). The client did not retry it: check the
    outcome (e.g. package detail) before sending it again."""


class RateLimitWaitExceededError(TikTokRetryableError):
    """Our own limiter could not grant a slot before the caller's deadline."""


class RateLimiterUnavailableError(TikTokRetryableError):
    """The shared rate limiter's storage could not be read or written (DynamoDB throttling, a
    service error, a timeout): no call was made; the same call may succeed later."""


class TikTokPermanentError(TikTokApiError):
    """Retrying the same request will not help."""


class TikTokUnreadableReplyError(TikTokPermanentError):
    """TikTok answered 2xx with a body that is not its JSON envelope. For a read, permanent;
    a call that is not idempotent may have been applied, so the client raises
    TikTokOutcomeUnknownError for it instead."""


class AccessTokenExpiredError(TikTokPermanentError):
    """Code 105002, still expired after one refresh (or no refresher configured)."""


class TikTokRequestRejectedError(TikTokPermanentError):
    """The client refused to send a request that TikTok would reject (validated locally)."""


# Failures after which TikTok certainly did not apply the request: throttled (429 / 36009002),
# never sent, or stopped by our own limiter before sending.
_NOT_PROCESSED: tuple[type[TikTokApiError], ...] = (
    RateLimitedError,
    TikTokNotSentError,
    RateLimitWaitExceededError,
    RateLimiterUnavailableError,
)


def certainly_not_processed(error: TikTokApiError) -> bool:
    """True when TikTok cannot have applied the request, so even a call that must not be
    applied twice may be sent again."""
    return isinstance(error, _NOT_PROCESSED)


def outcome_unknown(error: TikTokApiError, what: str) -> TikTokOutcomeUnknownError:
    """The error a non-idempotent call raises instead of retrying `error` (a retryable failure
    or an unreadable 2xx reply)."""
    return TikTokOutcomeUnknownError(
        f"{what} may have been applied ({error.message}); not retried: check its outcome "
        "before sending it again",
        code=error.code,
        request_id=error.request_id,
        http_status=error.http_status,
        retry_after=getattr(error, "retry_after", None),
    )


def error_from_response(
    *,
    code: int | None,
    message: str,
    request_id: str | None,
    http_status: int,
    retry_after: float | None = None,
) -> TikTokApiError:
    """Map one failed response to its error class; the single place the split is decided."""
    if http_status == 429 or code == CODE_RATE_LIMITED:
        return RateLimitedError(
            message,
            code=code,
            request_id=request_id,
            http_status=http_status,
            retry_after=retry_after,
        )
    if code == CODE_ACCESS_TOKEN_EXPIRED:
        return AccessTokenExpiredError(
            message, code=code, request_id=request_id, http_status=http_status
        )
    if http_status >= 500 or code in RETRYABLE_CODES:
        return TikTokRetryableError(
            message,
            code=code,
            request_id=request_id,
            http_status=http_status,
            retry_after=retry_after,
        )
    return TikTokPermanentError(message, code=code, request_id=request_id, http_status=http_status)
