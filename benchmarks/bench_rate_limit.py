"""Shared per-shop budget: concurrent workers push calls through the TikTok client to a sandbox
that throttles at R calls/s per shop, side by side with and without the DynamoDB limiter.

Goal with the limiter: achieved rate >= 0.9 R, and 0 throttled calls surfacing as failures
(429s that the client's retries absorbed are counted separately). Everything runs on loopback:
a moto server stands in for DynamoDB.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

RATE = 20.0  # R: the sandbox's per-shop limit, calls per second
WORKERS = 6
SECONDS = 5.0
CALL_DEADLINE = 15.0  # per call; generous so back-off, not the deadline, decides


@dataclass
class Outcome:
    succeeded: int
    throttled_failures: int
    other_failures: int
    throttled_answers: int
    seconds: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _moto_dynamodb() -> Iterator[None]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    fake_aws = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    from tts_sync.aws import reset_clients

    try:
        with mock.patch.dict(os.environ, fake_aws):
            os.environ.pop("AWS_PROFILE", None)
            reset_clients()
            yield
    finally:
        reset_clients()
        server.stop()


def _push(limited: bool, block: int = 1) -> Outcome:
    from tts_local.sandbox import Sandbox
    from tts_sync.aws import dynamodb_client
    from tts_sync.tiktok import (
        RateLimitedError,
        ShopAccess,
        TikTokApiConfig,
        TikTokApiError,
        TikTokClient,
    )
    from tts_sync.tiktok.ratelimit import BucketPolicy, NoRateLimit, RateLimiter
    from tts_sync.tiktok.ratelimit_dynamo import DynamoRateLimiter
    from tts_sync.tiktok.retry import deadline_after

    with Sandbox("bench-key", "bench-secret") as sandbox:
        demo = sandbox.seed_demo_data()
        sandbox.set_shop_qps(demo.shop.id, RATE)
        shop = ShopAccess(demo.shop.id, demo.shop.cipher, demo.grant.access_token)
        limiter: RateLimiter = NoRateLimit()
        if limited:
            table = f"bench-rate-limit-{int(time.time() * 1000)}"
            dynamodb_client().create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            )
            # burst 1: the limiter paces; the sandbox's one-second burst absorbs clock jitter.
            limiter = DynamoRateLimiter(
                table, BucketPolicy(rate_per_second=RATE, burst=1), block=block
            )
            limiter.acquire("warm-up", lambda: 5.0)  # create the boto3 client outside the clock
        config = TikTokApiConfig(api_base_url=sandbox.url, auth_base_url=sandbox.url)
        client = TikTokClient("bench-key", "bench-secret", config=config, limiter=limiter)
        client.get_authorized_shops(shop.access_token)  # open the connection pool
        sandbox.throttle.reset()
        counts = {"ok": 0, "throttled": 0, "failed": 0}
        lock = threading.Lock()
        stop_at = time.monotonic() + SECONDS

        def work() -> None:
            while time.monotonic() < stop_at:
                try:
                    client.get_warehouses(
                        shop, deadline=deadline_after(CALL_DEADLINE, time.monotonic)
                    )
                    key = "ok" if time.monotonic() <= stop_at else "late"
                except RateLimitedError:
                    key = "throttled"
                except TikTokApiError:
                    key = "failed"
                with lock:
                    counts[key] = counts.get(key, 0) + 1

        threads = [threading.Thread(target=work) for _ in range(WORKERS)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
        return Outcome(
            succeeded=counts["ok"],
            throttled_failures=counts["throttled"],
            other_failures=counts["failed"],
            throttled_answers=sandbox.throttle.throttled,
            seconds=min(SECONDS, time.monotonic() - started),
        )


def run() -> None:
    print(f"sandbox limit R = {RATE:g} calls/s per shop, {WORKERS} workers, {SECONDS:g} s each run")
    with _moto_dynamodb():
        for label, limited, block in (
            ("shared DynamoDB limiter", True, 1),
            ("  tokens in blocks of 5", True, 5),  # TTS_SHOP_TOKEN_BLOCK
            ("no limiter", False, 1),
        ):
            outcome = _push(limited, block)
            achieved = outcome.succeeded / SECONDS
            print(
                f"  {label:<24} achieved {achieved:5.1f}/s = {achieved / RATE:4.2f} R   "
                f"throttled failures {outcome.throttled_failures:3d}   "
                f"other failures {outcome.other_failures:3d}   "
                f"429s absorbed by retries {outcome.throttled_answers:3d}"
            )
    print("  goal (with limiter): ratio >= 0.90, throttled failures 0")
    print("  (without it the sandbox's one-second burst lets the first second exceed R)")


if __name__ == "__main__":
    run()
