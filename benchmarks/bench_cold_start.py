"""Cold-start import cost of every function module against `import boto3`, in fresh interpreters,
interleaved so both see the same machine load. For the webhook, whose cold start is on TikTok's
3 s clock, also its first request (client creation, the secret read, first validations) against
a loopback stand-in for DynamoDB and Secrets Manager: what TikTok waits for is import + first."""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPEATS = 7
REPO = Path(__file__).resolve().parents[1]

_BOTO3 = "import time; t=time.perf_counter(); import boto3; print(time.perf_counter()-t)"
# Lambda puts the function folder first on sys.path; the timed part is the module's import.
# The layer has no click/rich/pygments, so httpx skips its command-line client there; the dev
# environment has them (moto's server needs click), so the import is measured as the layer
# would make it: without that optional module.
_FUNCTION = (
    "import sys, time, importlib.util; sys.path.insert(0, {folder!r}); "
    "sys.modules['httpx._main'] = None; t=time.perf_counter(); "
    "spec=importlib.util.spec_from_file_location('app', {path!r}); "
    "m=importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
    "print(time.perf_counter()-t)"
)
# The webhook's import, then one signed delivery through lambda_handler; prints both times.
_WEBHOOK_FIRST_REQUEST = (
    _FUNCTION.replace("print(time.perf_counter()-t)", "imported=time.perf_counter()-t; ")
    + "import hashlib, hmac, json, types; "
    "body=json.dumps({{'type': 1, 'tts_notification_id': str(time.time_ns()), "
    "'shop_id': '7494', 'timestamp': int(time.time()), "
    "'data': {{'order_id': '5770', 'order_status': 'AWAITING_SHIPMENT'}}}}); "
    "sig=hmac.new(b'bench-secret', b'bench-key' + body.encode(), hashlib.sha256).hexdigest(); "
    "event={{'version': '2.0', 'rawPath': '/webhooks/tiktok', 'body': body, "
    "'isBase64Encoded': False, 'headers': {{'authorization': sig}}, "
    "'requestContext': {{'requestId': 'bench'}}}}; "
    "ctx=types.SimpleNamespace(function_name='webhook', memory_limit_in_mb=256, "
    "invoked_function_arn='arn:aws:lambda:us-east-1:000000000000:function:webhook', "
    "aws_request_id='bench'); "
    "t=time.perf_counter(); reply=m.lambda_handler(event, ctx); first=time.perf_counter()-t; "
    "assert reply['statusCode'] == 200, reply; print(imported, first)"
)


def _environment(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }


def _run(code: str, env: dict[str, str]) -> list[float]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return [float(value) for value in result.stdout.strip().splitlines()[-1].split()]


def _time(code: str) -> float:
    return _run(code, _environment())[0]


class _StandIn(BaseHTTPRequestHandler):
    """DynamoDB PutItem and Secrets Manager GetSecretValue, enough for one delivery."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        target = self.headers.get("x-amz-target", "")
        reply: dict[str, Any] = {}
        if target.endswith("GetSecretValue"):
            secret = {"app_key": "bench-key", "app_secret": "bench-secret"}
            reply = {"ARN": "arn:bench", "Name": "bench", "SecretString": json.dumps(secret)}
        payload = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.1")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


def _webhook_first_requests() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Dummy credentials and names: the stand-in on loopback checks none of them.
    settings = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "EVENTS_TABLE_NAME": "Events",
        "QUARANTINE_TABLE_NAME": "Quarantine",
        "APP_CREDENTIALS_SECRET_ARN": "arn:bench",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    env = _environment(**settings)
    app = REPO / "functions" / "webhook" / "app.py"
    code = _WEBHOOK_FIRST_REQUEST.format(folder=str(app.parent), path=str(app))
    imports, firsts, boto = [], [], []
    try:
        for _ in range(REPEATS):
            boto.append(_time(_BOTO3))
            imported, first = _run(code, env)
            imports.append(imported)
            firsts.append(first)
    finally:
        server.shutdown()
    base, mine = statistics.median(boto), statistics.median(imports)
    first = statistics.median(firsts)
    total = statistics.median(i + f for i, f in zip(imports, firsts, strict=True))
    print(
        f"  webhook import + first request: import {mine * 1000:.1f} ms ({mine / base:.2f}x), "
        f"first request {first * 1000:.1f} ms, together {total * 1000:.1f} ms "
        f"({total / base:.2f}x import boto3 {base * 1000:.1f} ms)"
    )


def _compile_like_make_build() -> None:
    """Bytecode for our code, as `make build` ships it: boto3 and the rest of the environment
    were compiled at `make sync`, so timing our modules from source (PYTHONDONTWRITEBYTECODE)
    would weigh a compile against a load. Timestamp mode, unlike the artifacts' unchecked hash:
    an edited source is recompiled, never served stale."""
    for folder in (REPO / "layers", REPO / "functions"):
        compileall.compile_dir(folder, quiet=1, workers=0)


def run() -> None:
    functions = sorted(path.parent.name for path in (REPO / "functions").glob("*/app.py"))
    _compile_like_make_build()
    print(
        f"import time in a fresh interpreter, median of {REPEATS} (Lambda INIT cost of our code, "
        "bytecode compiled as make build ships it)"
    )
    for name in functions:
        app = REPO / "functions" / name / "app.py"
        code = _FUNCTION.format(folder=str(app.parent), path=str(app))
        ours, boto = [], []
        for _ in range(REPEATS):
            boto.append(_time(_BOTO3))
            ours.append(_time(code))
        mine, base = statistics.median(ours), statistics.median(boto)
        print(
            f"  functions/{name:<18} {mine * 1000:7.1f} ms   import boto3 {base * 1000:7.1f} ms"
            f"   ratio {mine / base:.2f}x"
        )
    _webhook_first_requests()
