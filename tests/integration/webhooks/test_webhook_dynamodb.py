"""The webhook Lambda against DynamoDB and Secrets Manager over the wire (moto server)."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from tests.support import (
    FakeLambdaContext,
    free_port,
    http_api_event,
    load_function,
    template_resources,
)
from tts_sync import aws
from tts_sync.container import reset_container
from tts_sync.errors import ConfigError
from tts_sync.webhooks import http
from tts_sync.webhooks.signature import sign

APP_KEY, SECRET = "int-app-key", "int-app-secret"


def reset_container_caches() -> None:
    """What a fresh Lambda container starts with: no config, clients, secrets or dependencies."""
    reset_container()


@pytest.fixture
def stack(aws_endpoint, monkeypatch):
    """Per-test tables and secret shaped like template.yaml's, wired through the environment."""
    suffix = uuid.uuid4().hex[:8]
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    tables = {}
    for logical in ("events", "quarantine"):
        name = f"{logical}-{suffix}"
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        tables[logical] = name
    secrets = boto3.client("secretsmanager", endpoint_url=aws_endpoint)
    secret_arn = secrets.create_secret(
        Name=f"app-credentials-{suffix}",
        SecretString=json.dumps({"app_key": APP_KEY, "app_secret": SECRET}),
    )["ARN"]
    monkeypatch.setenv("EVENTS_TABLE_NAME", tables["events"])
    monkeypatch.setenv("QUARANTINE_TABLE_NAME", tables["quarantine"])
    monkeypatch.setenv("APP_CREDENTIALS_SECRET_ARN", secret_arn)
    reset_container_caches()
    yield {"dynamodb": dynamodb, "secrets": secrets, "secret_arn": secret_arn, **tables}
    reset_container_caches()


@pytest.fixture
def handler():
    return load_function("webhook").lambda_handler


def body(notification_id: str | None = "n-1", order_id: str = "5764") -> bytes:
    document = {
        "type": 1,
        "shop_id": "7494",
        "timestamp": int(time.time()),
        "data": {"order_id": order_id, "order_status": "AWAITING_SHIPMENT", "update_time": 7},
    }
    if notification_id:
        document["tts_notification_id"] = notification_id
    return json.dumps(document, separators=(",", ":")).encode()


def post(handler, raw: bytes, secret: str = SECRET) -> int:
    event = http_api_event(
        "POST", "/webhooks/tiktok", raw, {"authorization": sign(APP_KEY, raw, secret.encode())}
    )
    return handler(event, FakeLambdaContext())["statusCode"]


def items(stack, table: str) -> list[dict]:
    return stack["dynamodb"].scan(TableName=stack[table], ConsistentRead=True)["Items"]


def test_event_stored_with_exact_payload_and_ttl(handler, stack):
    raw = body()
    assert post(handler, raw) == 200
    (item,) = items(stack, "events")
    assert item["pk"] == {"S": "n-1"}
    assert item["payload"]["S"].encode() == raw
    assert item["event_type_name"] == {"S": "ORDER_STATUS_CHANGE"}
    assert item["shop_id"] == {"S": "7494"}
    assert int(item["expires_at"]["N"]) > time.time() + 29 * 86400


def test_duplicates_and_legacy_fallback_keys_store_one_item_each(handler, stack):
    for _ in range(3):
        assert post(handler, body()) == 200
        assert post(handler, body(notification_id=None)) == 200
    keys = sorted(item["pk"]["S"] for item in items(stack, "events"))
    assert len(keys) == 2
    assert keys[0].startswith("derived:") and keys[1] == "n-1"


def test_concurrent_duplicates_store_exactly_one(handler, stack):
    raw = body("n-concurrent")
    post(handler, body("warm-up"))  # load the secret once, as a warm container would have
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: post(handler, raw), range(16)))
    assert statuses == [200] * 16
    assert sorted(i["pk"]["S"] for i in items(stack, "events")) == ["n-concurrent", "warm-up"]


def test_quarantine_keeps_raw_body_and_reason(handler, stack):
    raw = b'{"type": 1, "shop_id": "7494", "timestamp": "soon", "data": {}}'
    assert post(handler, raw) == 200
    assert items(stack, "events") == []
    (kept,) = items(stack, "quarantine")
    assert kept["raw_body"]["B"] == raw
    assert "timestamp" in kept["reason"]["S"]
    assert int(kept["expires_at"]["N"]) > time.time() + 29 * 86400


def test_missing_table_answers_503(handler, stack, monkeypatch):
    monkeypatch.setenv("EVENTS_TABLE_NAME", "no-such-table")
    reset_container_caches()
    assert post(handler, body()) == 503


def test_unreachable_dynamodb_answers_503(handler, stack, monkeypatch):
    post(handler, body("warm-up"))  # secret cached; now DynamoDB goes away
    dead = f"http://127.0.0.1:{free_port()}"
    store = http.intake_dependencies().store
    store._client = boto3.client("dynamodb", endpoint_url=dead, config=aws.FAST_CONFIG)
    assert post(handler, body()) == 503


def test_fast_client_gives_up_inside_the_webhook_ack_budget():
    # Worst case of the client the webhook writes with: every attempt connects and reads as
    # slowly as allowed. It must end in our 503 before Lambda's 3 s Timeout kills the handler.
    config = aws.FAST_CONFIG
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) < 3


def test_warm_path_makes_exactly_one_aws_call_per_delivery(handler, stack):
    sent: list[str] = []

    def count(request, **_):
        target = request.headers.get("X-Amz-Target", b"?")
        sent.append(target.decode() if isinstance(target, bytes) else target)

    assert post(handler, body("cold")) == 200  # cold: reads the secret, then writes
    aws.dynamodb_client(fast=True).meta.events.register("before-send", count)
    aws.secretsmanager_client().meta.events.register("before-send", count)
    for index in range(5):
        assert post(handler, body(f"warm-{index}")) == 200
    assert post(handler, body("warm-0")) == 200  # a duplicate costs one call too
    assert sent == ["DynamoDB_20120810.PutItem"] * 6


def test_rotation_accepts_new_and_previous_secret(handler, stack):
    assert post(handler, body("before")) == 200
    stack["secrets"].put_secret_value(
        SecretId=stack["secret_arn"],
        SecretString=json.dumps(
            {"app_key": APP_KEY, "app_secret": "rotated", "previous_app_secret": SECRET}
        ),
    )
    assert post(handler, body("new-secret"), secret="rotated") == 200
    assert post(handler, body("old-secret"), secret=SECRET) == 200
    assert post(handler, body("wrong"), secret="neither") == 401
    stored = {i["pk"]["S"] for i in items(stack, "events")}
    assert stored == {"before", "new-secret", "old-secret"}


def test_malformed_secret_is_a_loud_failure_not_a_silent_401(handler, stack):
    stack["secrets"].put_secret_value(
        SecretId=stack["secret_arn"], SecretString=json.dumps({"app_key": APP_KEY})
    )
    reset_container_caches()
    with pytest.raises(ConfigError, match="app_secret"):
        post(handler, body())


def _signed_envelope(**overrides) -> bytes:
    document = json.loads(body("n-pathological"))
    for path, value in overrides.items():
        target = document
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return json.dumps(document).encode()


PATHOLOGICAL_BODIES = {
    # Correctly signed bodies no retry can fix: found by probing the intake as an attacker would.
    "nested 1,000 levels": (
        b'{"type":1,"shop_id":"7494","timestamp":1,"data":' + b'{"a":' * 1000 + b"1" + b"}" * 1001,
        "nested",
    ),
    "nested 100 levels": (
        b'{"type":1,"shop_id":"7494","timestamp":1,"data":' + b'{"a":' * 100 + b"1" + b"}" * 101,
        "nested",
    ),
    "integer of 5,000 digits": (
        b'{"type":1,"shop_id":"7494","timestamp":1,"data":{"x":' + b"9" * 5000 + b"}}",
        "integer",
    ),
    "timestamp of 309 digits": (_signed_envelope(timestamp=10**309), "timestamp"),
    "type of 130 digits": (_signed_envelope(type=10**130), "type"),
    "timestamp of 130 digits": (_signed_envelope(timestamp=10**130), "timestamp"),
    "notification id over the key limit": (
        _signed_envelope(tts_notification_id="n" * 2049),
        "tts_notification_id",
    ),
    "notification id of 1,100 x é": (
        _signed_envelope(tts_notification_id="é" * 1100),
        "tts_notification_id",
    ),
    "lone surrogate in shop_id": (
        json.dumps({**json.loads(body()), "shop_id": "\ud800"}).encode(),
        "shop_id",
    ),
    "lone surrogate in the notification id": (
        json.dumps({**json.loads(body()), "tts_notification_id": "n\udfff"}).encode(),
        "tts_notification_id",
    ),
    "order id over the key limit": (_signed_envelope(**{"data.order_id": "5" * 3000}), "order_id"),
}


@pytest.mark.parametrize("case", sorted(PATHOLOGICAL_BODIES))
def test_signed_pathological_body_is_acknowledged_and_quarantined_with_its_reason(
    handler, stack, case
):
    raw, reason_names = PATHOLOGICAL_BODIES[case]
    assert post(handler, raw) == 200
    assert items(stack, "events") == []
    (kept,) = items(stack, "quarantine")
    assert kept["raw_body"]["B"] == raw
    assert reason_names in kept["reason"]["S"]


def test_non_list_package_list_without_notification_id_is_stored_not_a_500(handler, stack):
    document = json.loads(body(notification_id=None))
    document["type"] = 99  # an unknown type: data is kept as-is
    document["data"]["package_list"] = 7
    assert post(handler, json.dumps(document).encode()) == 200
    (item,) = items(stack, "events")
    assert item["pk"]["S"].startswith("derived:")


def test_a_write_dynamodb_refuses_for_good_is_quarantined_not_a_503(handler, stack, monkeypatch):
    # DynamoDB refuses what moto may accept (numbers past 38 digits, say): a ValidationException
    # no retry can fix is quarantined with DynamoDB's reason; TikTok gets its 200.
    post(handler, body("warm-up"))
    store = http.intake_dependencies().store
    real_put = store._client.put_item

    def refusing_put(**kwargs):
        if kwargs["TableName"] == stack["events"]:
            kwargs["Item"] = {**kwargs["Item"], "pk": {"S": "k" * 3000}}  # over the key limit
        return real_put(**kwargs)

    monkeypatch.setattr(store._client, "put_item", refusing_put)
    raw = body("n-refused")
    assert post(handler, raw) == 200
    assert [i["pk"]["S"] for i in items(stack, "events")] == ["warm-up"]
    (kept,) = items(stack, "quarantine")
    assert kept["raw_body"]["B"] == raw
    assert "ValidationException" in kept["reason"]["S"]


def test_the_http_api_logs_every_request_without_its_query_string():
    """Access logs answer "did TikTok reach us" without exposing the OAuth callback's code."""
    resources = template_resources()
    settings = resources["WebhookApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": "WebhookApiAccessLogGroup.Arn"}
    fields = json.loads(settings["Format"])
    assert {"status", "routeKey", "latencyMs", "requestId"} <= set(fields)
    assert not any("querystring" in value.lower() for value in fields.values())
    assert "RetentionInDays" in resources["WebhookApiAccessLogGroup"]["Properties"]
