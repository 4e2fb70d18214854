"""Shop onboarding and tokens over real wire protocols: DynamoDB and Secrets Manager in the moto
server, TikTok Shop in the sandbox on loopback. The functions run through their entry points."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import boto3
import httpx
import pytest

from tests.conftest import FakeLambdaContext, http_api_event, load_function
from tts_local.sandbox import Sandbox
from tts_sync.container import reset_container
from tts_sync.shops.dynamo_store import DynamoOAuthStateStore, DynamoShopStore
from tts_sync.shops.models import Shop, ShopTokens
from tts_sync.shops.runtime import ShopDependencies, override_dependencies
from tts_sync.shops.tokens import StoreTokenRefresher
from tts_sync.tiktok import (
    BackoffPolicy,
    BucketPolicy,
    TikTokApiConfig,
    TikTokClient,
)
from tts_sync.tiktok.ratelimit_dynamo import DynamoRateLimiter

APP_KEY = "shops-app-key"
APP_SECRET = "shops-app-secret-0123456789"
DOMAIN = "api.tts.test"
WEBHOOK_URL = f"https://{DOMAIN}/webhooks/tiktok"


def reset_container_caches() -> None:
    reset_container()


@dataclass
class Clock:
    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def _table(dynamodb: Any, name: str) -> str:
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(APP_KEY, APP_SECRET, port=0, rotate_refresh_tokens=True) as running:
        yield running


@pytest.fixture
def stack(aws_endpoint: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """Tables and secret shaped like template.yaml's, wired through the environment."""
    suffix = uuid.uuid4().hex[:8]
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    names = {
        "shops": _table(dynamodb, f"shops-{suffix}"),
        "states": _table(dynamodb, f"oauth-states-{suffix}"),
        "ratelimit": _table(dynamodb, f"ratelimit-{suffix}"),
    }
    secret_arn = boto3.client("secretsmanager", endpoint_url=aws_endpoint).create_secret(
        Name=f"app-credentials-{suffix}",
        SecretString=json.dumps({"app_key": APP_KEY, "app_secret": APP_SECRET}),
    )["ARN"]
    env = {
        "SHOPS_TABLE_NAME": names["shops"],
        "OAUTH_STATE_TABLE_NAME": names["states"],
        "RATE_LIMIT_TABLE_NAME": names["ratelimit"],
        "APP_CREDENTIALS_SECRET_ARN": secret_arn,
        "TTS_API_BASE_URL": sandbox.url,
        "TTS_AUTH_BASE_URL": sandbox.url,
        "TTS_AUTHORIZE_URL": sandbox.url + "/oauth/authorize",
        "TTS_SHOP_RATE_PER_SECOND": "200",
        "TTS_SHOP_BURST": "200",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_container_caches()
    yield {"dynamodb": dynamodb, "secret_arn": secret_arn, **names}
    reset_container_caches()


@dataclass
class Wiring:
    store: DynamoShopStore
    states: DynamoOAuthStateStore
    client: TikTokClient
    clock: Clock
    sandbox: Sandbox
    dynamodb: Any
    shops_table: str
    contexts: list[Any] = field(default_factory=list)

    def items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=self.shops_table, ConsistentRead=True)["Items"]


def build_client(sandbox: Sandbox, stack: dict, clock: Clock, **config: Any) -> TikTokClient:
    limiter = DynamoRateLimiter(
        stack["ratelimit"], BucketPolicy(rate_per_second=200, burst=200), client=stack["dynamodb"]
    )
    settings = {
        "api_base_url": sandbox.url,
        "auth_base_url": sandbox.url,
        "read_timeout": 2.0,
        "connect_timeout": 0.5,
        **config,
    }
    # Fast back-off: the tests wait for nothing; the split retryable/permanent is what matters.
    return TikTokClient(
        APP_KEY,
        APP_SECRET,
        config=TikTokApiConfig(**settings),
        limiter=limiter,
        backoff=BackoffPolicy(base_seconds=0.01, cap_seconds=0.02, max_attempts=2),
    )


@pytest.fixture
def wiring(stack: dict, sandbox: Sandbox) -> Iterator[Wiring]:
    """The functions' dependencies, built explicitly (fast back-off, a controllable clock)."""
    clock = Clock()
    store = DynamoShopStore(stack["dynamodb"], stack["shops"])
    states = DynamoOAuthStateStore(stack["dynamodb"], stack["states"])
    client = build_client(sandbox, stack, clock)
    client.token_refresher = StoreTokenRefresher(store, client, clock=clock)
    override_dependencies(ShopDependencies(shops=store, client=client, states=states, clock=clock))
    yield Wiring(store, states, client, clock, sandbox, stack["dynamodb"], stack["shops"])
    override_dependencies(None)
    client.close()


# ---------------------------------------------------------------- driving the functions


def oauth_get(path: str, query: dict[str, str] | None = None, domain: str = DOMAIN) -> dict:
    event = http_api_event("GET", path)
    event["requestContext"]["domainName"] = domain
    if query is not None:
        event["rawQueryString"] = urlencode(query)
        event["queryStringParameters"] = query
    return load_function("oauth").lambda_handler(event, FakeLambdaContext(25_000))


def consent(sandbox: Sandbox, authorize_location: str) -> dict[str, str]:
    """What the seller's browser does: open the consent page, follow its redirect to us."""
    reply = httpx.get(authorize_location, follow_redirects=False)
    assert reply.status_code == 302
    back = urlsplit(reply.headers["location"])
    return dict(parse_qsl(back.query))


def connect(sandbox: Sandbox, domain: str = DOMAIN) -> dict:
    """The whole onboarding: /start, consent, /callback; returns the callback's response."""
    started = oauth_get("/oauth/tiktok/start", domain=domain)
    assert started["statusCode"] == 302
    return oauth_get("/oauth/tiktok/callback", consent(sandbox, started["headers"]["Location"]))


def token_refresh(event: dict[str, Any], remaining_ms: int = 60_000) -> Any:
    return load_function("token_refresh").lambda_handler(event, FakeLambdaContext(remaining_ms))


SCHEDULED_EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-21T22:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/tts-sync-hourly"],
    "detail": {},
}


def emitted_metrics(output: str) -> list[str]:
    names: list[str] = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    count = int(sum(value) if isinstance(value, list) else value)
                    names.extend([metric["Name"]] * count)
    return names


def seed_shop(
    wiring: Wiring,
    *,
    access_ttl: int,
    shop_id: str | None = None,
    refresh_expires_in: int | None = None,
    refresh_token: str | None = None,
) -> Shop:
    """A shop in the sandbox with a grant, stored as if onboarded."""
    sandbox_shop = wiring.sandbox.seed_shop(shop_id)
    grant = wiring.sandbox.issue_token([sandbox_shop.id], access_ttl=access_ttl)
    now = int(wiring.clock())
    return wiring.store.save_authorization(
        Shop(
            shop_id=sandbox_shop.id,
            cipher=sandbox_shop.cipher,
            name=sandbox_shop.name,
            open_id=grant.open_id,
            tokens=ShopTokens.model_validate(
                {
                    "access_token": grant.access_token,
                    "access_token_expires_at": grant.access_token_expire_in,
                    "refresh_token": refresh_token or grant.refresh_token,
                    "refresh_token_expires_at": (
                        now + refresh_expires_in
                        if refresh_expires_in is not None
                        else grant.refresh_token_expire_in
                    ),
                }
            ),
            authorized_at=now - 60,
            updated_at=now - 60,
        )
    )
