"""Signed, rate-limited, retrying HTTP calls to the TikTok Shop Partner API.

One SignedTransport per container: it owns the httpx.Client (connection reuse) and applies the
call discipline every endpoint shares. The JSON body is serialised once; those exact bytes are
signed and sent, because TikTok signs the raw body and any re-serialisation breaks the signature.

Every retryable failure is retried for calls that are safe to repeat (`idempotent=True`, the
default). A call that must not be applied twice (`idempotent=False`: shipping, tracking updates,
and both token calls on the auth host: the auth code is single use, a refresh token may be
rotated) is retried only when TikTok certainly did not process it (throttled, connection never
opened, our own limiter, not sent for lack of time); after a read timeout, a 5xx, TikTok's
internal/timeout codes or a 2xx whose body cannot be read it raises TikTokOutcomeUnknownError at
once, so the caller checks the outcome before trying again.

No request goes out with less than `min_send_seconds` of the deadline left (TikTokNotSentError):
one sent with a few milliseconds to live would almost surely end with an unknown outcome.
"""

from __future__ import annotations

import json
import logging
import random as random_module
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from tts_sync.observability import logger
from tts_sync.tiktok.config import TikTokApiConfig
from tts_sync.tiktok.errors import (
    AccessTokenExpiredError,
    RateLimitedError,
    RateLimitWaitExceededError,
    TikTokApiError,
    TikTokNotSentError,
    TikTokRetryableError,
    TikTokTransportError,
    TikTokUnreadableReplyError,
    certainly_not_processed,
    error_from_response,
    outcome_unknown,
)
from tts_sync.tiktok.ratelimit import NoRateLimit, RateLimiter
from tts_sync.tiktok.retry import BackoffPolicy, Deadline, deadline_after
from tts_sync.tiktok.signing import sign, timestamp_param

if TYPE_CHECKING:
    # Imported where the first client is made and where it sends: httpx (and the asyncio it
    # loads) is a tenth of a function's cold import, and some paths never call TikTok.
    import httpx

# httpx logs every request URL at INFO; token calls carry app_secret in the query string.
logging.getLogger("httpx").setLevel(logging.WARNING)

JsonBody = Mapping[str, Any] | list[Any]


class AccessTokenRefresher(Protocol):
    """Port: returns a fresh access token for the seller whose token just expired."""

    def __call__(self, expired_access_token: str) -> str: ...


@runtime_checkable
class ShopTokenRefresher(Protocol):
    """Port, optional richer form: also told whose token it is (a token store keyed by shop)
    and how long the call may still take (`deadline`: the call's remaining seconds), so a
    refresh never outlives its caller. The transport prefers it for shop-scoped calls when the
    refresher implements it."""

    def __call__(self, expired_access_token: str) -> str: ...

    def refresh_shop_token(
        self, shop_id: str, expired_access_token: str, *, deadline: Deadline | None = None
    ) -> str: ...


@dataclass(frozen=True)
class ShopAccess:
    """What a shop-scoped call needs: whose budget, which cipher, which token."""

    shop_id: str
    shop_cipher: str
    access_token: str = field(repr=False)


@dataclass(frozen=True)
class ApiResponse:
    data: dict[str, Any]
    request_id: str


def encode_json(body: JsonBody | None) -> bytes:
    """The exact bytes sent and signed (compact, UTF-8)."""
    if body is None:
        return b""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class SignedTransport:
    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        config: TikTokApiConfig | None = None,
        limiter: RateLimiter | None = None,
        token_refresher: AccessTokenRefresher | None = None,
        backoff: BackoffPolicy | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        self.app_key = app_key
        self._app_secret = app_secret
        self.config = config or TikTokApiConfig()
        self.limiter: RateLimiter = limiter or NoRateLimit()
        self.token_refresher = token_refresher
        self.backoff = backoff or BackoffPolicy()
        if http is None:
            import httpx
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout),
            limits=httpx.Limits(max_keepalive_connections=10, keepalive_expiry=30),
        )
        self._sleep = sleep
        self._clock = clock
        self._random = random

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ open API host

    def call(
        self,
        method: str,
        path: str,
        *,
        access_token: str,
        shop: ShopAccess | None = None,
        query: Mapping[str, str] | None = None,
        body: JsonBody | None = None,
        deadline: Deadline | None = None,
        idempotent: bool = True,
    ) -> ApiResponse:
        """One logical call: rate limit, sign, send, retry transient failures until deadline,
        refresh an expired token once.

        idempotent=False for a call that must not be applied twice: it is retried only after
        failures TikTok certainly did not process; other retryable failures raise
        TikTokOutcomeUnknownError without a retry."""
        remaining = deadline or deadline_after(self.config.default_deadline_seconds, self._clock)
        body_bytes = encode_json(body)
        token = access_token
        refreshed = False
        attempt = 0
        last_error: TikTokRetryableError | None = None
        while True:
            if last_error is not None and remaining() < self.config.min_send_seconds:
                raise last_error  # what went wrong, not "no time left to try again"
            try:
                if shop is not None:
                    # A slot granted with less than the sending minimum left is no use.
                    self.limiter.acquire(shop.shop_id, self._sendable(remaining))
                return self._send_signed(
                    method, path, token, shop, query or {}, body_bytes, remaining()
                )
            except TikTokUnreadableReplyError as error:
                if idempotent:
                    raise
                self._not_retried(path, error)
                raise outcome_unknown(error, f"{method} {path}") from error
            except RateLimitWaitExceededError:
                raise last_error or RateLimitWaitExceededError(
                    "rate limiter could not grant a call before the deadline"
                ) from None
            except AccessTokenExpiredError:
                if refreshed or self.token_refresher is None:
                    raise
                logger.info("access token expired; refreshing once", path=path)
                token = self._refreshed_token(token, shop, remaining)
                refreshed = True
            except TikTokRetryableError as error:
                if not idempotent and not certainly_not_processed(error):
                    self._not_retried(path, error)
                    raise outcome_unknown(error, f"{method} {path}") from error
                last_error = error
                if isinstance(error, RateLimitedError) and shop is not None:
                    self.limiter.report_throttled(shop.shop_id)
                attempt += 1
                delay = self.backoff.delay(attempt - 1, self._random, error.retry_after)
                if attempt >= self.backoff.max_attempts or delay >= remaining():
                    raise
                logger.info(
                    "retrying tiktok call",
                    path=path,
                    attempt=attempt,
                    delay_seconds=round(delay, 3),
                    code=error.code,
                    http_status=error.http_status,
                )
                self._sleep(delay)

    def _sendable(self, remaining: Deadline) -> Deadline:
        minimum = self.config.min_send_seconds
        return lambda: remaining() - minimum

    @staticmethod
    def _not_retried(path: str, error: TikTokApiError) -> None:
        logger.warning(
            "tiktok call not retried: it may have been applied",
            path=path,
            code=error.code,
            http_status=error.http_status,
            request_id=error.request_id,
        )

    def _refreshed_token(self, expired: str, shop: ShopAccess | None, remaining: Deadline) -> str:
        refresher = self.token_refresher
        assert refresher is not None
        if shop is not None and isinstance(refresher, ShopTokenRefresher):
            return refresher.refresh_shop_token(shop.shop_id, expired, deadline=remaining)
        return refresher(expired)  # a plain callable: it keeps its own time bound

    def _send_signed(
        self,
        method: str,
        path: str,
        access_token: str,
        shop: ShopAccess | None,
        extra_query: Mapping[str, str],
        body: bytes,
        seconds_left: float,
    ) -> ApiResponse:
        query = {"app_key": self.app_key, "timestamp": timestamp_param(self._clock())}
        query.update(extra_query)
        # shop_cipher only where TikTok expects it: on /authorization/* it is error 36009004.
        if shop is not None:
            query["shop_cipher"] = shop.shop_cipher
        query["sign"] = sign(path, query, body, self._app_secret)
        headers = {"x-tts-access-token": access_token, "content-type": "application/json"}
        return self._send(
            method,
            self.config.api_base_url.rstrip("/") + path,
            query,
            body,
            headers,
            seconds_left,
            path,
        )

    # ------------------------------------------------------------------ auth host

    def call_auth(
        self,
        path: str,
        query: Mapping[str, str],
        deadline: Deadline | None = None,
        *,
        idempotent: bool = True,
    ) -> ApiResponse:
        """Token endpoints: unsigned GETs carrying app_key/app_secret.

        Both token calls are sent with idempotent=False (a used auth code, a rotated refresh
        token is refused the second time): then only failures TikTok certainly did not process
        are retried; after any other (read timeout, 5xx, unreadable 2xx) the call raises
        TikTokOutcomeUnknownError without resending."""
        remaining = deadline or deadline_after(self.config.default_deadline_seconds, self._clock)
        full_query = {"app_key": self.app_key, "app_secret": self._app_secret, **query}
        url = self.config.auth_base_url.rstrip("/") + path
        attempt = 0
        while True:
            try:
                return self._send("GET", url, full_query, b"", {}, remaining(), path)
            except TikTokUnreadableReplyError as error:
                if idempotent:
                    raise
                self._not_retried(path, error)
                raise outcome_unknown(error, f"GET {path}") from error
            except TikTokRetryableError as error:
                if not idempotent and not certainly_not_processed(error):
                    self._not_retried(path, error)
                    raise outcome_unknown(error, f"GET {path}") from error
                attempt += 1
                delay = self.backoff.delay(attempt - 1, self._random, error.retry_after)
                if attempt >= self.backoff.max_attempts or delay >= remaining():
                    raise
                self._sleep(delay)

    # ------------------------------------------------------------------ wire

    def _send(
        self,
        method: str,
        url: str,
        query: Mapping[str, str],
        body: bytes,
        headers: Mapping[str, str],
        seconds_left: float,
        path: str,
    ) -> ApiResponse:
        if seconds_left < self.config.min_send_seconds or seconds_left <= 0:
            raise TikTokNotSentError(
                f"not sent: {max(seconds_left, 0.0):.2f} s left calling {path}, "
                f"below the {self.config.min_send_seconds:g} s minimum"
            )
        import httpx  # loaded by the client's construction (or the test's own client)

        timeout = httpx.Timeout(
            min(self.config.read_timeout, seconds_left),
            connect=min(self.config.connect_timeout, seconds_left),
        )
        try:
            response = self._http.request(
                method,
                url,
                params=dict(query),
                content=body or None,
                headers=headers,
                timeout=timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection was opened (or none was free): nothing reached TikTok.
            raise TikTokNotSentError(
                f"could not connect calling {path}: {type(exc).__name__}"
            ) from None
        except httpx.TimeoutException as exc:
            raise TikTokTransportError(f"timeout calling {path}: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise TikTokTransportError(
                f"connection error calling {path}: {type(exc).__name__}"
            ) from None
        return _parse(response, path)


def _parse(response: httpx.Response, path: str) -> ApiResponse:
    retry_after = _retry_after(response.headers.get("retry-after"))
    try:
        envelope = response.json()
        if not isinstance(envelope, dict):
            raise ValueError("envelope is not an object")
    except ValueError:
        error: TikTokApiError = error_from_response(
            code=None,
            message=f"unreadable response from {path}",
            request_id=None,
            http_status=response.status_code,
            retry_after=retry_after,
        )
        if not isinstance(error, TikTokRetryableError) and response.is_success:
            error = TikTokUnreadableReplyError(error.message, http_status=response.status_code)
        raise error from None
    code = envelope.get("code")
    request_id = str(envelope.get("request_id") or "")
    if response.is_success and code == 0:
        data = envelope.get("data")
        return ApiResponse(data=data if isinstance(data, dict) else {}, request_id=request_id)
    error = error_from_response(
        code=code if isinstance(code, int) else None,
        message=str(envelope.get("message") or "TikTok Shop call failed"),
        request_id=request_id or None,
        http_status=response.status_code,
        retry_after=retry_after,
    )
    logger.warning(
        "tiktok call failed",
        path=path,
        code=error.code,
        http_status=error.http_status,
        request_id=error.request_id,
    )
    raise error


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back to our own back-off
