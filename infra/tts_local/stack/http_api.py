"""The HTTP APIs on loopback: template routes -> API Gateway HTTP API payload v2.0 events.

Routes come from the OpenAPI bodies the SAM translator writes for AWS::Serverless::HttpApi, so
any route added to template.yaml is served without code here. Responses follow the v2 mapping
rules; handler crashes and timeouts look like API Gateway's 500.

The same port also serves Lambda's own Invoke API (POST /2015-03-31/functions/{name}/
invocations, synchronous), which the workers reach through AWS_ENDPOINT_URL_LAMBDA: a function
that invokes another with boto3 (the ops function's replay) runs unchanged locally.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tts_local.stack.functions import Invocation
from tts_local.stack.naming import ACCOUNT_ID

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API payload quota
_ANY = "x-amazon-apigateway-any-method"
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|x-www-form-urlencoded)|.*\+(json|xml))$"
)
_FUNCTION_IN_URI = re.compile(r"function:([A-Za-z0-9_-]+)")
_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,8}")
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# How long a connection may take to send a body it announced (API Gateway gives up too).
BODY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Route:
    api_id: str
    method: str  # upper case, or ANY
    path: str  # /orders/{id} or $default
    function_name: str
    pattern: re.Pattern[str]
    payload_version: str = "2.0"  # "1.0" for REST APIs and HTTP API routes that ask for it
    rest: bool = False  # an AWS::ApiGateway::RestApi route: REST's error bodies and stage

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    @property
    def rank(self) -> tuple[bool, bool, int, int]:
        """API Gateway prefers literal paths, then {param}, then {greedy+}, then $default."""
        return (self.path == "$default", "+}" in self.path, self.path.count("{"), -len(self.path))


def routes_from_openapi(api_id: str, body: dict[str, Any], *, rest: bool = False) -> list[Route]:
    """Lambda proxy routes of one API's OpenAPI/Swagger body (as the SAM translator writes it)."""
    routes = []
    for path, operations in (body.get("paths") or {}).items():
        for method, operation in operations.items():
            integration = operation.get("x-amazon-apigateway-integration") or {}
            match = _FUNCTION_IN_URI.search(json.dumps(integration.get("uri", "")))
            if match is None:
                continue
            verb = "ANY" if method == _ANY else method.upper()
            version = "1.0" if rest else str(integration.get("payloadFormatVersion", "2.0"))
            routes.append(
                Route(api_id, verb, path, match.group(1), _path_pattern(path), version, rest)
            )
    return routes


def _path_pattern(path: str) -> re.Pattern[str]:
    if path == "$default":
        return re.compile(r"^/.*$")
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{_group(part[1:-2])}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{_group(part[1:-1])}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}/?$")


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _param_names(path: str) -> dict[str, str]:
    names = re.findall(r"\{([^}+]+)\+?\}", path)
    return {_group(name): name for name in names}


class RouteTable:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda route: route.rank)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            found = route.pattern.match(path)
            if found:
                names = _param_names(route.path)
                return route, {
                    names[key]: unquote(value) for key, value in found.groupdict().items()
                }
        return None


def is_text_content(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return bool(_TEXT_TYPES.match(media_type))


def encode_body(body: bytes, as_text: bool) -> tuple[str, bool]:
    """(body, isBase64Encoded). A text type goes as text only if it is valid UTF-8; otherwise
    base64, so the function gets the exact bytes (decoding with errors="replace" would rewrite
    them, and a correctly signed webhook would then fail verification)."""
    if as_text:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode(), True


def content_length(value: str | None) -> int | None:
    """The header's byte count (0 when absent); None when it is not a plain decimal number:
    int() would crash on "abc" and a negative length would make rfile.read() wait for EOF."""
    if value is None or not value.strip():
        return 0
    if _DECIMAL.fullmatch(value.strip()) is None:
        return None
    return int(value)


class FramingError(Exception):
    """A request whose bytes API Gateway would not take: answered, then the connection closes
    (where the next request starts is unknown)."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_body(headers: Message, rfile: BufferedIOBase) -> bytes:
    """The request body as API Gateway would pass it on, or FramingError. Refuses what lets a
    client smuggle a second request past the first: a header line without a colon (the parser
    would drop the headers after it), two different Content-Length values, Content-Length
    beside Transfer-Encoding. A chunked body is decoded."""
    if headers.defects:
        raise FramingError(HTTPStatus.BAD_REQUEST, "Bad Request: malformed header line")
    lengths = {value.strip() for value in headers.get_all("content-length") or []}
    encodings = headers.get_all("transfer-encoding") or []
    if encodings:
        if lengths:
            raise FramingError(
                HTTPStatus.BAD_REQUEST, "Bad Request: Content-Length with Transfer-Encoding"
            )
        codings = [coding.strip().lower() for value in encodings for coding in value.split(",")]
        if codings != ["chunked"]:
            raise FramingError(HTTPStatus.NOT_IMPLEMENTED, "Not Implemented: transfer coding")
        return _read_chunked(rfile)
    if len(lengths) > 1:
        raise FramingError(HTTPStatus.BAD_REQUEST, "Bad Request: conflicting Content-Length")
    length = content_length(next(iter(lengths), None))
    if length is None:
        raise FramingError(HTTPStatus.BAD_REQUEST, "Bad Request")
    if length > MAX_PAYLOAD_BYTES:
        raise FramingError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Request Entity Too Large")
    body = rfile.read(length) if length else b""
    if len(body) < length:
        raise FramingError(HTTPStatus.BAD_REQUEST, "Bad Request: body shorter than announced")
    return body


def _read_chunked(rfile: BufferedIOBase) -> bytes:
    body = bytearray()
    while True:
        line = rfile.readline(1024)
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not line.endswith(b"\r\n") or not _HEX.fullmatch(size_text):
            raise FramingError(HTTPStatus.BAD_REQUEST, "Bad Request: malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > MAX_PAYLOAD_BYTES:
            raise FramingError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Request Entity Too Large")
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.read(2) != b"\r\n":
            raise FramingError(HTTPStatus.BAD_REQUEST, "Bad Request: malformed chunk")
        body += chunk
    for _ in range(64):  # trailer fields, then the blank line that ends the message
        line = rfile.readline(8192)
        if line == b"\r\n":
            return bytes(body)
        if not line.endswith(b"\r\n"):
            break
    raise FramingError(HTTPStatus.BAD_REQUEST, "Bad Request: malformed chunked trailer")


def build_event(
    *,
    route: Route,
    path_parameters: dict[str, str],
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": route.api_id,
            "domainName": joined.get("host", "127.0.0.1"),
            "domainPrefix": joined.get("host", "127.0.0.1").split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"], event["isBase64Encoded"] = encode_body(
            body, is_text_content(joined.get("content-type"))
        )
    return event


def build_event_v1(
    *,
    route: Route,
    path_parameters: dict[str, str],
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """A payload format 1.0 event (REST APIs, and HTTP API routes set to 1.0)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    stage = "Prod" if route.rest else "$default"
    now = datetime.now(UTC)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    # REST APIs without binaryMediaTypes pass every body as text; HTTP APIs use the type rule.
    # Either way, bytes that are not UTF-8 go base64 so that they arrive intact.
    as_text = route.rest or is_text_content(content_type)
    encoded: str | None = None
    is_base64 = False
    if body:
        encoded, is_base64 = encode_body(body, as_text)
    return {
        "version": "1.0",
        "resource": route.path,
        "path": raw_path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": route.api_id,
            "domainName": single.get("Host", "127.0.0.1"),
            "httpMethod": method,
            "identity": {"sourceIp": source_ip, "userAgent": single.get("User-Agent", "")},
            "path": raw_path if stage == "$default" else f"/{stage}{raw_path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourcePath": route.path,
            "stage": stage,
        },
        "body": encoded,
        "isBase64Encoded": is_base64,
    }


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_error(status: HTTPStatus, message: str) -> HttpResponse:
    return HttpResponse(
        int(status),
        [("content-type", "application/json")],
        json.dumps({"message": message}).encode(),
    )


def _integration_error(route: Route) -> HttpResponse:
    if route.rest:
        return gateway_error(HTTPStatus.BAD_GATEWAY, "Internal server error")
    return gateway_error(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal Server Error")


def map_response(invocation: Invocation, route: Route) -> HttpResponse:
    """v2: a dict with statusCode is a full response, anything else is a 200 JSON body.
    v1: the function must return a full response, else API Gateway reports a bad integration."""
    if not invocation.ok:
        return _integration_error(route)
    payload = invocation.payload
    has_status = isinstance(payload, dict) and "statusCode" in payload
    if not has_status and route.payload_version == "1.0":
        return _integration_error(route)
    if not has_status:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        return HttpResponse(200, [("content-type", "application/json")], text.encode())
    try:
        status = int(payload["statusCode"])
        headers = [(str(k), str(v)) for k, v in (payload.get("headers") or {}).items()]
        for name, values in (payload.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), str(value)) for value in values)
        headers.extend(("set-cookie", str(cookie)) for cookie in payload.get("cookies") or [])
        body = payload.get("body") or ""
        if not isinstance(body, str):
            body = json.dumps(body)
        raw = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode()
    except (ValueError, TypeError):
        log.warning("malformed Lambda proxy response: %r", payload)
        return _integration_error(route)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    return HttpResponse(status, headers, raw)


Invoker = Callable[[str, Any], Invocation]  # (function physical name, event)


def lambda_error(status: HTTPStatus, error_type: str, message: str) -> HttpResponse:
    """An error of the Lambda API itself (not of the function), as Lambda answers it."""
    return HttpResponse(
        int(status),
        [("content-type", "application/json"), ("x-amzn-errortype", error_type)],
        json.dumps({"Type": "User", "message": message}).encode(),
    )


def lambda_invoke(
    invoke: Invoker, name: str, headers: list[tuple[str, str]], body: bytes
) -> HttpResponse:
    """Lambda's Invoke (RequestResponse): the function's answer as the payload; a function
    error is still a 200, with X-Amz-Function-Error and the error document as the payload."""
    invocation_type = next(
        (v for k, v in headers if k.lower() == "x-amz-invocation-type"), "RequestResponse"
    )
    if invocation_type != "RequestResponse":
        return lambda_error(
            HTTPStatus.BAD_REQUEST,
            "InvalidParameterValueException",
            f"the local stack serves synchronous invokes only, not {invocation_type}",
        )
    try:
        event = json.loads(body or b"{}")
    except ValueError:
        return lambda_error(
            HTTPStatus.BAD_REQUEST, "InvalidRequestContentException", "Could not parse JSON"
        )
    try:
        invocation = invoke(name, event)
    except KeyError:
        return lambda_error(
            HTTPStatus.NOT_FOUND, "ResourceNotFoundException", f"Function not found: {name}"
        )
    answer = [("content-type", "application/json"), ("x-amz-executed-version", "$LATEST")]
    if not invocation.ok:
        answer.append(("x-amz-function-error", "Unhandled"))
        error = invocation.error or {}
        document = {
            "errorMessage": error.get("errorMessage", ""),
            "errorType": error.get("errorType", "Unhandled"),
            **({"stackTrace": error["stackTrace"]} if "stackTrace" in error else {}),
        }
        return HttpResponse(200, answer, json.dumps(document).encode())
    return HttpResponse(200, answer, json.dumps(invocation.payload, default=str).encode())


AdminHandler = Callable[[str, str, bytes], HttpResponse | None]  # (method, path, body)


class ApiServer:
    """A ThreadingHTTPServer serving every route of every HTTP API in the template."""

    ADMIN_PREFIX = "/_local/"

    def __init__(
        self,
        routes: RouteTable,
        invoke: Invoker,
        admin: AdminHandler,
        port: int,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
    ) -> None:
        self.routes = routes
        self._invoke = invoke
        self._admin = admin
        self._body_timeout = body_timeout
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._in_flight = 0  # requests being answered; a stop waits for them
        self._idle = threading.Condition()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stops accepting connections; requests already read are still answered."""
        if self._thread is not None:  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
        self._server.server_close()

    def wait_idle(self, timeout: float) -> bool:
        """Waits until no request is being answered; True when none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, max(0.0, timeout))

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpResponse:
        parts = urlsplit(target)
        if parts.path.startswith(self.ADMIN_PREFIX):
            response = self._admin(method, parts.path, body)
            if response is not None:
                return response
        invocation = _LAMBDA_INVOKE.match(parts.path)
        if invocation is not None and method == "POST":
            return lambda_invoke(self._invoke, unquote(invocation["name"]), headers, body)
        found = self.routes.match(method, parts.path)
        if found is None:
            return gateway_error(HTTPStatus.NOT_FOUND, "Not Found")
        route, path_parameters = found
        builder = build_event if route.payload_version == "2.0" else build_event_v1
        event = builder(
            route=route,
            path_parameters=path_parameters,
            method=method,
            raw_path=parts.path,
            raw_query=parts.query,
            headers=headers,
            body=body,
            source_ip=source_ip,
        )
        started = time.monotonic()
        response = map_response(self._invoke(route.function_name, event), route)
        log.info(
            "%s %s -> %s %d (%.0f ms)",
            method,
            parts.path,
            route.function_name,
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return response

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Applied to the socket: a body (or a next request) that never comes ends the
            # connection instead of holding a server thread for good.
            timeout = server._body_timeout

            def _serve(self) -> None:
                try:
                    body = read_body(self.headers, self.rfile)
                except FramingError as error:  # where the body ends is unknown: hang up
                    self._send(gateway_error(error.status, error.message), close=True)
                    return
                except TimeoutError:
                    self._send(
                        gateway_error(HTTPStatus.REQUEST_TIMEOUT, "Request Timeout"), close=True
                    )
                    return
                response = server.handle(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.client_address[0],
                )
                self._send(response)

            def _send(self, response: HttpResponse, close: bool = False) -> None:
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(response.body)))
                self.send_header("apigw-requestid", str(uuid.uuid4()))
                if close:
                    self.send_header("connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            def _serve_counted(self) -> None:
                with server._answering():
                    self._serve()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve_counted

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http: " + format, *args)

        return Handler
