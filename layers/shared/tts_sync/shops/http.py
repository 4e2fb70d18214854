"""HTTP side of onboarding: base URL derivation, pages, and outcomes mapped to status codes and
metrics in one place. The pages are small, escaped HTML meant for a seller's browser.

Every failure ends on a page: anything not mapped to its own answer (unreadable credentials,
configuration, storage, ...) is a 503 that logs only the exception's type (OAuthFailed)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

from aws_lambda_powertools.event_handler import Response

from tts_sync.config import load_config
from tts_sync.errors import StorageUnavailableError
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.shops.onboarding import (
    CALLBACK_PATH,
    AuthorizationAnswerLostError,
    AuthorizationDeclinedError,
    AuthorizationRefusedError,
    AuthorizeSettings,
    ConnectionResult,
    OAuthStateRejectedError,
    TikTokUnavailableError,
    complete_authorization,
    start_authorization,
)
from tts_sync.shops.runtime import OAuthConfig, shop_dependencies
from tts_sync.shops.subscriptions import webhook_address
from tts_sync.tiktok.retry import Deadline

START_PATH = "/oauth/tiktok/start"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
# The callback URL carries a single-use code: keep it out of caches and Referer headers. The
# pages load nothing and must not be framed or sniffed as anything but HTML.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    # HTTPS only from the first visit on (browsers ignore it over the local stack's http).
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}


def public_base_url(domain_name: str | None, configured: str) -> str:
    """PUBLIC_BASE_URL if set, else https://<domain> (http for loopback, the local stack)."""
    if configured:
        return configured.rstrip("/")
    if not domain_name:
        raise ValueError("no PUBLIC_BASE_URL and no domain in the request")
    if domain_name.startswith("["):  # IPv6 literal, maybe with a port
        host = domain_name.split("]")[0] + "]"
    else:
        host = domain_name.split(":")[0]
    scheme = "http" if host in LOCAL_HOSTS else "https"
    return f"{scheme}://{domain_name}"


def handle_start(domain_name: str | None) -> Response[str]:
    return _answering(lambda: _start(domain_name))


def handle_callback(
    query: Mapping[str, str], domain_name: str | None, deadline: Deadline
) -> Response[str]:
    return _answering(lambda: _callback(query, domain_name, deadline))


def _answering(handler: Callable[[], Response[str]]) -> Response[str]:
    try:
        return handler()
    except Exception as exc:  # the last line: a page, never a stack trace or a bare 500
        # Only the type: messages of unexpected errors may carry values (pydantic, botocore).
        logger.error("oauth request failed", error_type=type(exc).__name__)
        metrics.add_metric(name="OAuthFailed", unit=MetricUnit.Count, value=1)
        return page(
            503,
            "Temporarily unavailable",
            "We could not complete this step right now. Please start the connection again in a "
            "few minutes.",
        )


def _start(domain_name: str | None) -> Response[str]:
    config = load_config(OAuthConfig)
    dependencies = shop_dependencies(with_states=True)
    assert dependencies.states is not None
    base = public_base_url(domain_name, config.public_base_url)
    app_key = dependencies.client.app_key
    settings = AuthorizeSettings(config.authorize_url, app_key, config.service_id)
    now = int(dependencies.clock())
    try:
        url = start_authorization(dependencies.states, settings, base + CALLBACK_PATH, now)
    except StorageUnavailableError as exc:
        logger.error("oauth state not stored", error=str(exc))
        metrics.add_metric(name="OAuthUnavailable", unit=MetricUnit.Count, value=1)
        return page(503, "Please try again", "We could not start the connection. Try again.")
    metrics.add_metric(name="OAuthStarted", unit=MetricUnit.Count, value=1)
    return Response(status_code=302, headers={"Location": url, **PAGE_HEADERS}, body="")


def _callback(
    query: Mapping[str, str], domain_name: str | None, deadline: Deadline
) -> Response[str]:
    config = load_config(OAuthConfig)
    dependencies = shop_dependencies(with_states=True)
    assert dependencies.states is not None
    base = public_base_url(domain_name, config.public_base_url)
    restart = f'<p><a href="{html.escape(base + START_PATH)}">Start again</a></p>'
    try:
        result = complete_authorization(
            query.get("code"),
            query.get("state"),
            states=dependencies.states,
            shops=dependencies.shops,
            api=dependencies.client,
            webhook_address=webhook_address(base),
            event_types=dependencies.event_types,
            now=int(dependencies.clock()),
            deadline=deadline,
        )
    except OAuthStateRejectedError as exc:
        logger.warning("oauth callback rejected", reason=exc.reason)
        metrics.add_metric(name="OAuthStateRejected", unit=MetricUnit.Count, value=1)
        return page(
            400,
            "Link expired or already used",
            f"This authorization link is not valid ({exc.reason}). Nothing was changed.",
            restart,
        )
    except AuthorizationDeclinedError:
        logger.info("seller declined the authorization", error=query.get("error", "")[:64])
        metrics.add_metric(name="OAuthDeclined", unit=MetricUnit.Count, value=1)
        return page(
            400,
            "Connection declined",
            "The shop was not connected because the authorization was declined on TikTok Shop. "
            "Nothing was stored. You can start again whenever you are ready.",
            restart,
        )
    except AuthorizationRefusedError as exc:
        logger.warning("tiktok refused the authorization code", reason=str(exc))
        metrics.add_metric(name="OAuthCodeRejected", unit=MetricUnit.Count, value=1)
        return page(
            400,
            "TikTok Shop refused the authorization",
            "TikTok Shop did not accept this authorization (the code may have expired). "
            "Nothing was stored. Please start the connection again.",
            restart,
        )
    except AuthorizationAnswerLostError as exc:
        logger.error("oauth callback: tiktok's answer to token/get was lost", error=str(exc))
        metrics.add_metric(name="OAuthUnavailable", unit=MetricUnit.Count, value=1)
        return page(
            503,
            "Temporarily unavailable",
            "TikTok Shop's answer did not reach us: it may have accepted the authorization, "
            "but its one-time code cannot be used twice, so nothing was stored. Please start "
            "the connection again.",
            restart,
        )
    except (TikTokUnavailableError, StorageUnavailableError) as exc:
        logger.error("oauth callback could not complete", error=str(exc))
        metrics.add_metric(name="OAuthUnavailable", unit=MetricUnit.Count, value=1)
        return page(
            503,
            "Temporarily unavailable",
            "TikTok Shop or our storage did not answer in time. This link cannot be reused: "
            "please start the connection again in a few minutes.",
            restart,
        )
    if not result.shops:
        return page(
            200,
            "No shop connected",
            "TikTok Shop did not authorize any shop. Nothing was stored.",
            restart,
        )
    return page(200, "Shop connected", "", *_result_lines(result))


def _result_lines(result: ConnectionResult) -> list[str]:
    items = []
    for shop in result.shops:
        label = html.escape(f"{shop.name or shop.shop_id} ({shop.region})")
        state = "re-authorized" if shop.reauthorized else "connected"
        note = ""
        if shop.failed_subscriptions:
            note = " - some notifications will be set up automatically within the hour"
        items.append(f"<li>{label}: {state}{html.escape(note)}</li>")
    return ["<p>These shops are now connected:</p>", "<ul>" + "".join(items) + "</ul>"]


def page(status: int, title: str, message: str, *extra_html: str) -> Response[str]:
    """A minimal page; `message` is text (escaped), `extra_html` is trusted markup."""
    body_html = f"<p>{html.escape(message)}</p>" if message else ""
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>{body_html}{''.join(extra_html)}</body></html>"
    )
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=body,
        headers=dict(PAGE_HEADERS),
    )
