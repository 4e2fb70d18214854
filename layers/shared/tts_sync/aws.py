"""Lazily created AWS clients: one per container, never at import time, never per call.

The endpoint comes from the SDK's own AWS_ENDPOINT_URL support, which is how the local stack and
the integration tests point every client at the moto server.

Clients come from botocore directly: a boto3 client *is* a botocore client, and `import boto3`
also loads s3transfer and the resource machinery, which no function here uses for a client.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config

from tts_sync.container import container_cached, reset_container

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Fail fast inside a Lambda's short budget (the webhook has 3 s): two attempts at most 1.3 s
# each, so a slow call ends in our own error handling, not in a killed invocation.
FAST_CONFIG = Config(
    connect_timeout=0.5,
    read_timeout=0.8,
    retries={"mode": "standard", "total_max_attempts": 2},
)


# A synchronous Invoke waits for the function it calls (up to Lambda's 900 s maximum); the
# caller's own budget decides whether to start one, so no retry may double it: one attempt.
INVOKE_CONFIG = Config(
    connect_timeout=5,
    read_timeout=900,
    retries={"mode": "standard", "total_max_attempts": 1},
)
_CONFIGS = {"fast": FAST_CONFIG, "invoke": INVOKE_CONFIG}
_CREATING = threading.Lock()


@container_cached
def _session() -> botocore.session.Session:
    # One session for every client, as boto3's default session: each new session parses the
    # endpoint and partition files again, most of a client's creation on the first request
    # (the webhook makes two: DynamoDB and Secrets Manager).
    return botocore.session.get_session()


@container_cached
def _client(service: str, profile: str = "default") -> Any:
    config = _CONFIGS.get(profile) or Config(retries={"mode": "standard"})
    with _CREATING:  # a botocore session is not safe to create clients from two threads
        return _session().create_client(service, config=config)


def dynamodb_client(*, fast: bool = False) -> DynamoDBClient:
    return _client("dynamodb", "fast" if fast else "default")


def secretsmanager_client(*, fast: bool = False) -> SecretsManagerClient:
    return _client("secretsmanager", "fast" if fast else "default")


def sqs_client() -> SQSClient:
    return _client("sqs")


def events_client() -> EventBridgeClient:
    return _client("events")


def lambda_client() -> LambdaClient:
    """For synchronous invokes (AWS_ENDPOINT_URL_LAMBDA points it at the local stack)."""
    return _client("lambda", "invoke")


def reset_clients() -> None:
    """Forget cached clients and everything built on them (tests switching moto servers)."""
    reset_container()
