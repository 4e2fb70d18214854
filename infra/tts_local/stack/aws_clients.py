"""boto3 clients bound to the local moto server, with fake credentials that cannot reach AWS."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class MotoClients:
    """One client per service, created on first use (clients are thread-safe; sessions are not)."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region

    def client(self, service: str) -> Any:
        return boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=self.region,
        ).client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    @cached_property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cached_property
    def streams(self) -> Any:
        return self.client("dynamodbstreams")

    @cached_property
    def sqs(self) -> Any:
        return self.client("sqs")

    @cached_property
    def secretsmanager(self) -> Any:
        return self.client("secretsmanager")

    @cached_property
    def events(self) -> Any:
        return self.client("events")

    @cached_property
    def ssm(self) -> Any:
        return self.client("ssm")
