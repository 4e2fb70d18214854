"""Test helpers without side effects (conftest.py sets the test environment; this module does
not), so benchmarks can use them too."""

from __future__ import annotations

import base64
import gc
import importlib.util
import socket
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REPO_ROOT = Path(__file__).resolve().parents[1]


def load_function(name: str) -> ModuleType:
    """Imports functions/<name>/app.py under a unique module name (every function has an app.py),
    the same file Lambda runs; cached so decorators and module state behave as in one container."""
    module_name = f"function_{name}_app"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(
        module_name, REPO_ROOT / "functions" / name / "app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    # The import froze every object alive (tts_sync.cold_start): right for a container, but
    # here that is the test session's state too, whose garbage would then never be collected.
    gc.unfreeze()
    return module


class FakeLambdaContext:
    function_name = "test-function"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "test"

    def __init__(self, remaining_ms: int = 3000) -> None:
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_api_event(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2.0) event as Lambda receives it."""
    now = time.time()
    encoded: str | None = None
    if body is not None:
        encoded = base64.b64encode(body).decode() if base64_body else body.decode("utf-8")
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "local.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": f"req-{now}",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": encoded,
        "isBase64Encoded": base64_body,
    }


def template_document(path: Path | None = None) -> dict[str, Any]:
    """template.yaml as data; CloudFormation tags (!Ref, !GetAtt, ...) become their long form."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            return {name: loader.construct_scalar(node)}
        return {name: loader.construct_sequence(node, deep=True)}

    Loader.add_multi_constructor("!", intrinsic)
    text = (path or REPO_ROOT / "template.yaml").read_text()
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def template_resources() -> dict[str, Any]:
    return template_document()["Resources"]
