"""The sandbox's HTTP face: a threading loopback server that checks every request like the
Partner API gateway does, then dispatches to endpoints, the token host, the consent page or the
admin API. The checks run in TikTok's order: route, app_key, timestamp, sign, token, cipher,
throttle, injected fault, handler."""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tts_local.sandbox import errors
from tts_local.sandbox.endpoints import Call, find_route, path_exists
from tts_local.sandbox.errors import ApiFailure
from tts_local.sandbox.faults import Fault
from tts_local.sandbox.signature import api_signature
from tts_local.sandbox.state import AUTH_CODE_TTL, AuthCode

if TYPE_CHECKING:
    from tts_local.sandbox.sandbox import Sandbox

TOKEN_GET_PATH = "/api/v2/token/get"  # noqa: S105 - a path, not a secret  # nosec B105
TOKEN_REFRESH_PATH = "/api/v2/token/refresh"  # noqa: S105 - a path  # nosec B105
TIMESTAMP_PAST_WINDOW = 300  # TikTok accepts -5 min ...
TIMESTAMP_FUTURE_WINDOW = 30  # ... to +30 s of its clock
MAX_BODY_BYTES = 5 * 1024 * 1024
_DECIMAL = re.compile(r"[0-9]+")
# A 2xx whose body is cut short: what a proxy dropping the connection mid-answer leaves.
GARBLED_BODY = b'{"code":0,"message":"Success","data":{"pack'


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] | None = None
    code: int | None = None


def envelope(code: int, message: str, data: dict[str, Any] | None, status: int = 200) -> Reply:
    request_id = time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8).upper()
    body = {"code": code, "message": message, "request_id": request_id, "data": data or {}}
    return Reply(status, json.dumps(body).encode(), code=code)


def failure(error: ApiFailure) -> Reply:
    reply = envelope(error.code, error.message, None, error.http_status)
    if error.retry_after is not None:
        reply.headers = {"Retry-After": f"{error.retry_after:g}"}
    return reply


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sandbox: Sandbox, host: str, port: int) -> None:
        super().__init__((host, port), SandboxRequestHandler)
        self.sandbox = sandbox


class SandboxRequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, so the client's connection reuse is exercised for real.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms for
    # a delayed ACK on every reply.
    disable_nagle_algorithm = True
    server: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request log below replaces stderr noise

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        sandbox = self.server.sandbox
        parts = urlsplit(self.path)
        path = parts.path
        raw_query = parse_qs(parts.query, keep_blank_values=True)
        length = content_length(self.headers.get("content-length"))
        if length is None:
            # Where the body ends is unknown, so the connection cannot be reused either.
            self.close_connection = True
            self._write(envelope(errors.INVALID_PARAMETER, "invalid Content-Length", None, 400))
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would be parsed as the next request
            self._write(envelope(errors.INVALID_PARAMETER, "body too large", None, 413))
            return
        body = self.rfile.read(length) if length else b""
        query = {key: values[-1] for key, values in raw_query.items()}
        if path.startswith("/_admin/"):
            from tts_local.sandbox.admin import handle_admin

            reply = handle_admin(sandbox, self.command, path, query, body)
            self._write(reply)
            return
        if any(len(values) > 1 for values in raw_query.values()):
            reply = envelope(errors.INVALID_PARAMETER, "repeated query parameter", None, 400)
        elif path == sandbox.authorize_path:
            reply = consent_page(sandbox, query)
        elif path in (TOKEN_GET_PATH, TOKEN_REFRESH_PATH):
            reply = token_endpoint(sandbox, path, query)
        else:
            reply = open_api(sandbox, self.command, path, query, body, self.headers)
        sandbox.record(
            method=self.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            status=reply.status,
            code=reply.code,
        )
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in (reply.headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (an injected timeout did its job).
            self.close_connection = True


def content_length(value: str | None) -> int | None:
    """The header's byte count (0 when absent); None when it is not a plain decimal number, so
    a negative length (rfile.read(-1) would wait for EOF) or "abc" gets a 400, not a hang."""
    if value is None or not value.strip():
        return 0
    if _DECIMAL.fullmatch(value.strip()) is None:
        return None
    return int(value)


def open_api(
    sandbox: Sandbox, method: str, path: str, query: dict[str, str], body: bytes, headers: Any
) -> Reply:
    try:
        return _open_api(sandbox, method, path, query, body, headers)
    except ApiFailure as error:
        return failure(error)


def _open_api(
    sandbox: Sandbox, method: str, path: str, query: dict[str, str], body: bytes, headers: Any
) -> Reply:
    found = find_route(method, path)
    if found is None:
        status = 405 if path_exists(path) else 404
        raise ApiFailure(errors.NOT_FOUND, f"no such endpoint: {method} {path}", status)
    route, params = found
    if not hmac.compare_digest(query.get("app_key", "").encode(), sandbox.app_key.encode()):
        raise ApiFailure(errors.INVALID_PARAMETER, "invalid app_key", 401)
    _check_timestamp(query.get("timestamp", ""), sandbox.now())
    expected = api_signature(path, query, body, sandbox.app_secret)
    if not hmac.compare_digest(query.get("sign", "").encode(), expected.encode()):
        raise ApiFailure(errors.INVALID_SIGN, "invalid sign", 401)
    token = headers.get("x-tts-access-token") or ""
    with sandbox.state.lock:
        grant = sandbox.state.grants.get(token)
    if grant is None:
        raise ApiFailure(errors.INVALID_PARAMETER, "invalid access token", 401)
    if grant.access_token_expire_in <= sandbox.now():
        raise ApiFailure(errors.ACCESS_TOKEN_EXPIRED, "access token expired", 401)
    shop = None
    if route.scope == "authorization":
        if "shop_cipher" in query:
            raise ApiFailure(errors.INVALID_PARAMETER, "shop_cipher not expected here")
    else:
        cipher = query.get("shop_cipher", "")
        if not cipher:
            raise ApiFailure(errors.SHOP_CIPHER_REQUIRED, "shop_cipher is required")
        with sandbox.state.lock:
            shop = sandbox.state.shop_by_cipher(cipher)
        if shop is None or shop.id not in grant.shop_ids:
            raise ApiFailure(errors.INVALID_PARAMETER, "invalid shop_cipher", 401)
        if not sandbox.throttle.admit(shop.id, shop.qps):
            raise ApiFailure(errors.RATE_LIMITED, "too many requests", 429)
    fault = sandbox.faults.take(path)
    page = _apply_fault(fault)
    if page is not None:
        return page
    call = Call(method, path, query, body, params, grant, shop, fault, sandbox.options)
    with sandbox.state.lock:
        data = route.handler(sandbox.state, call)
    return _answer_lost(fault, envelope(0, "Success", data))


def _apply_fault(fault: Fault | None) -> Reply | None:
    """Raises the injected failure (or returns a non-envelope page); None lets the call run."""
    if fault is None or fault.after_apply:
        return None
    if fault.kind == "slow":
        time.sleep(fault.sleep_seconds)
        return None  # then the request runs and is answered as usual, only late
    if fault.kind == "garbled":
        return Reply(200, GARBLED_BODY, code=None)
    if fault.kind == "5xx":
        if fault.code is None:  # a load balancer's page, not TikTok's envelope
            return Reply(fault.status, b"<html>Service Unavailable</html>", "text/html")
        raise ApiFailure(fault.code, "injected server error", fault.status)
    if fault.kind == "timeout":
        time.sleep(fault.sleep_seconds)
        raise ApiFailure(errors.GATEWAY_TIMEOUT, "injected timeout", 504)
    if fault.kind == "429":
        raise ApiFailure(
            errors.RATE_LIMITED, "too many requests", 429, retry_after=fault.retry_after
        )
    if fault.kind == "token_expired":
        raise ApiFailure(errors.ACCESS_TOKEN_EXPIRED, "access token expired", 401)
    return None  # code-0 faults (sku_errors, omit_orders, ...) are the endpoint's


def _answer_lost(fault: Fault | None, reply: Reply) -> Reply:
    """An after_apply fault: the request was applied (`reply` is what TikTok would have said),
    then the answer is lost: a 5xx, a garbled body, an answer after the client's read timeout,
    or a slow answer. A failed request (ApiFailure) never gets here: nothing to lose."""
    if fault is None or not fault.after_apply:
        return reply
    if fault.kind == "5xx":
        if fault.code is None:
            return Reply(fault.status, b"<html>Bad Gateway</html>", "text/html")
        return failure(ApiFailure(fault.code, "injected server error", fault.status))
    if fault.kind == "garbled":
        return Reply(200, GARBLED_BODY, code=None)
    # timeout (sleep_seconds beyond the client's read timeout) and slow: the real answer, late.
    time.sleep(fault.sleep_seconds)
    return reply


def _check_timestamp(value: str, now: float) -> None:
    if len(value) != 10 or not value.isdigit():
        raise ApiFailure(errors.INVALID_PARAMETER, "timestamp must be 10-digit unix seconds")
    skew = int(value) - now
    if skew < -TIMESTAMP_PAST_WINDOW or skew > TIMESTAMP_FUTURE_WINDOW:
        raise ApiFailure(errors.INVALID_PARAMETER, "timestamp outside the accepted window", 401)


# ---------------------------------------------------------------- auth host


def token_endpoint(sandbox: Sandbox, path: str, query: dict[str, str]) -> Reply:
    try:
        # The auth host fails like the API host does (5xx, timeouts, 429) when told to.
        fault = sandbox.faults.take(path)
        page = _apply_fault(fault)
        if page is not None:
            return page
        return _answer_lost(fault, envelope(0, "success", _token(sandbox, path, query)))
    except ApiFailure as error:
        return failure(error)


def _token(sandbox: Sandbox, path: str, query: dict[str, str]) -> dict[str, Any]:
    key_ok = hmac.compare_digest(query.get("app_key", "").encode(), sandbox.app_key.encode())
    secret_ok = hmac.compare_digest(
        query.get("app_secret", "").encode(), sandbox.app_secret.encode()
    )
    if not (key_ok and secret_ok):
        raise ApiFailure(errors.INVALID_PARAMETER, "invalid app_key or app_secret", 401)
    state = sandbox.state
    now = sandbox.now()
    with state.lock:
        if path == TOKEN_GET_PATH:
            if query.get("grant_type") != "authorized_code":
                raise ApiFailure(errors.INVALID_PARAMETER, "grant_type must be authorized_code")
            code = state.auth_codes.get(query.get("auth_code", ""))
            if code is None or code.used or code.expires_at < now:
                raise ApiFailure(errors.INVALID_PARAMETER, "invalid or expired auth_code")
            code.used = True
            return state.issue_grant(code.shop_ids, now=now).to_api()
        if query.get("grant_type") != "refresh_token":
            raise ApiFailure(errors.INVALID_PARAMETER, "grant_type must be refresh_token")
        refresh = query.get("refresh_token", "")
        old = None
        if refresh not in state.spent_refresh_tokens:
            old = next((g for g in state.grants.values() if g.refresh_token == refresh), None)
        if old is None or old.refresh_token_expire_in <= now:
            raise ApiFailure(errors.INVALID_PARAMETER, "invalid or expired refresh_token")
        fresh = state.issue_grant(old.shop_ids, now=now, open_id=old.open_id)
        if sandbox.rotate_refresh_tokens:
            # Rotation: a new refresh token with the same horizon; the old one is spent as
            # soon as this answer exists (whether or not it reaches the caller).
            state.spent_refresh_tokens.add(refresh)
            fresh.refresh_token_expire_in = old.refresh_token_expire_in
        else:
            # The refresh token and its horizon carry over; only the access token is new.
            fresh.refresh_token, fresh.refresh_token_expire_in = (
                old.refresh_token,
                old.refresh_token_expire_in,
            )
        return fresh.to_api()


# ---------------------------------------------------------------- seller consent (OAuth)


def consent_page(sandbox: Sandbox, query: dict[str, str]) -> Reply:
    """Auto-approving stand-in for the seller's consent screen: 302 back with a code."""
    app_key = query.get("app_key", "")
    service_id = query.get("service_id", "")
    if not (app_key == sandbox.app_key or (service_id and service_id == sandbox.service_id)):
        return Reply(400, b"unknown app", "text/plain", code=errors.INVALID_PARAMETER)
    redirect_uri = query.get("redirect_uri") or sandbox.redirect_uri
    if not redirect_uri:
        return Reply(400, b"no redirect_uri", "text/plain", code=errors.INVALID_PARAMETER)
    with sandbox.state.lock:
        shop_ids = sandbox.consent_shop_ids or list(sandbox.state.shops)
        code = AuthCode(
            code=f"AC_{secrets.token_urlsafe(18)}",
            shop_ids=list(shop_ids),
            expires_at=sandbox.now() + AUTH_CODE_TTL,
        )
        sandbox.state.auth_codes[code.code] = code
    separator = "&" if urlsplit(redirect_uri).query else "?"
    location = (
        redirect_uri + separator + urlencode({"code": code.code, "state": query.get("state", "")})
    )
    return Reply(HTTPStatus.FOUND, b"", "text/plain", headers={"Location": location})


def serve_in_thread(server: SandboxServer) -> threading.Thread:
    # A short poll interval keeps stop() fast (tests start and stop many sandboxes).
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="tts-sandbox",
        daemon=True,
    )
    thread.start()
    return thread
