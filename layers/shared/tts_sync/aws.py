"""Lazily created AWS clients: one per container, never at import time, never per call.

The endpoint comes from boto3's own AWS_ENDPOINT_URL support, which is how the local stack and
the integration tests point every client at the moto server.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Fail fast inside a Lambda's short budget: a caller retries the whole unit of work instead.
FAST_CONFIG = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 2},
)


@cache
def _client(service: str, profile: str = "default") -> Any:
    config = FAST_CONFIG if profile == "fast" else Config(retries={"mode": "standard"})
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def dynamodb_client(*, fast: bool = False) -> DynamoDBClient:
    return _client("dynamodb", "fast" if fast else "default")


def secretsmanager_client() -> SecretsManagerClient:
    return _client("secretsmanager")


def sqs_client() -> SQSClient:
    return _client("sqs")


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints between moto servers)."""
    _client.cache_clear()
