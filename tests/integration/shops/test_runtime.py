"""The default (AWS-backed) wiring of the shop functions: what a warm Lambda container keeps."""

from __future__ import annotations

import json

import boto3

from tests.integration.shops.conftest import APP_KEY
from tts_local.sandbox import Sandbox
from tts_sync.credentials import credentials_provider
from tts_sync.shops.runtime import shop_api_client, shop_dependencies

ROTATED_SECRET = "shops-app-secret-rotated-9876543210"


def test_a_warm_container_follows_an_app_secret_rotation(
    stack: dict, sandbox: Sandbox, aws_endpoint: str
) -> None:
    client = shop_api_client()
    assert shop_api_client() is client and shop_dependencies().client is client
    boto3.client("secretsmanager", endpoint_url=aws_endpoint).put_secret_value(
        SecretId=stack["secret_arn"],
        SecretString=json.dumps({"app_key": APP_KEY, "app_secret": ROTATED_SECRET}),
    )
    sandbox.app_secret = ROTATED_SECRET  # TikTok now knows only the new secret
    credentials_provider().refresh()  # what the cache's max_age does a few minutes later
    rotated = shop_api_client()
    assert rotated is not client and shop_dependencies().client is rotated
    shop = sandbox.seed_shop()
    grant = sandbox.issue_token([shop.id])
    fresh = rotated.refresh_access_token(grant.refresh_token)
    assert fresh.access_token != grant.access_token
    sent = sandbox.requests("/api/v2/token/refresh")[-1]["query"]
    assert sent["app_secret"] == ROTATED_SECRET
    assert shop_api_client() is rotated  # unchanged credentials: the same client
