"""Per-delivery time of the webhook handler against a bare baseline, side by side in one run.

Baseline: HMAC-SHA256 + json.loads + one put_item to the same moto-backed table, with no
validation, dedupe condition, observability or response mapping. The ratio is the price of
everything the intake does beyond the minimum.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import statistics
import sys
import time

ROUNDS = 400
APP_KEY, SECRET = "bench-key", "bench-secret"


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run() -> None:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log

    # `python -m benchmarks` runs from the repo root, where the test helpers import as a package.
    from tests.support import FakeLambdaContext, free_port, http_api_event, load_function

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto accepts anything
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="Bench",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    try:
        dynamodb = boto3.client("dynamodb")
        for table in ("bench-events", "bench-quarantine", "bench-baseline"):
            dynamodb.create_table(
                TableName=table,
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        secret_arn = boto3.client("secretsmanager").create_secret(
            Name="bench", SecretString=json.dumps({"app_key": APP_KEY, "app_secret": SECRET})
        )["ARN"]
        os.environ.update(
            EVENTS_TABLE_NAME="bench-events",
            QUARANTINE_TABLE_NAME="bench-quarantine",
            APP_CREDENTIALS_SECRET_ARN=secret_arn,
        )
        handler = load_function("webhook").lambda_handler
        baseline_client = boto3.client("dynamodb")

        def baseline(raw: bytes, signature: str) -> None:
            expected = hmac.new(SECRET.encode(), APP_KEY.encode() + raw, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(expected, signature)
            document = json.loads(raw)
            baseline_client.put_item(
                TableName="bench-baseline",
                Item={"pk": {"S": document["tts_notification_id"]}, "payload": {"S": raw.decode()}},
            )

        ours: list[float] = []
        bare: list[float] = []
        sink = open(os.devnull, "w")  # noqa: SIM115 - the handler's EMF/log lines are noise here
        real_stdout = sys.stdout
        for index in range(ROUNDS + 20):
            document = {
                "type": 1,
                "tts_notification_id": f"bench-{index}",
                "shop_id": "7494",
                "timestamp": int(time.time()),
                "data": {"order_id": str(index), "order_status": "UNPAID", "update_time": index},
            }
            raw = json.dumps(document).encode()
            signature = hmac.new(
                SECRET.encode(), APP_KEY.encode() + raw, hashlib.sha256
            ).hexdigest()
            event = http_api_event("POST", "/webhooks/tiktok", raw, {"authorization": signature})
            # Alternate which goes first so drift on a shared machine hits both alike.
            order = (
                [("ours", event), ("bare", raw)] if index % 2 else [("bare", raw), ("ours", event)]
            )
            for kind, payload in order:
                started = time.perf_counter()
                if kind == "ours":
                    sys.stdout = sink
                    try:
                        status = handler(payload, FakeLambdaContext())["statusCode"]
                    finally:
                        sys.stdout = real_stdout
                    assert status == 200, status
                else:
                    baseline(payload, signature)
                elapsed = time.perf_counter() - started
                if index >= 20:  # first rounds warm caches, the secret and connections
                    (ours if kind == "ours" else bare).append(elapsed)
        sink.close()
    finally:
        server.stop()

    def ms(value: float) -> str:
        return f"{value * 1000:7.2f} ms"

    p50_ours, p99_ours = _percentile(ours, 0.5), _percentile(ours, 0.99)
    p50_bare, p99_bare = _percentile(bare, 0.5), _percentile(bare, 0.99)
    print(f"webhook intake, {ROUNDS} warm deliveries each, moto server on loopback as the store")
    for label, samples, p50, p99 in (
        ("intake handler", ours, p50_ours, p99_ours),
        ("bare baseline ", bare, p50_bare, p99_bare),
    ):
        print(f"  {label}   p50 {ms(p50)}  p99 {ms(p99)}  mean {ms(statistics.mean(samples))}")
    print(
        f"  ratio intake/baseline: p50 {p50_ours / p50_bare:.2f}x  p99 {p99_ours / p99_bare:.2f}x"
    )
