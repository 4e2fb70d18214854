"""Which stack an ops command works on: a deployed one (CloudFormation stack name, ordinary AWS
credentials) or the local stack (its READY info, read from its API port)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import httpx

from tts_sync.aws import INVOKE_CONFIG
from tts_sync.ops.replay import Invoker, ReplayError, lambda_invoker

# An SQS queue URL: <endpoint>/<12-digit account>/<name>, on AWS and in moto alike.
_QUEUE_URL = re.compile(r"^https?://[^/]+/\d{12}/[A-Za-z0-9_.-]+$")


class TargetError(Exception):
    """The stack could not be found or read; the message says why."""


@dataclass(frozen=True)
class StackTarget:
    name: str
    resources: dict[str, str]  # template logical id -> physical id (queue URL, table name...)
    endpoint_url: str | None = None  # the local stack's moto; None for AWS itself
    local_api_url: str | None = None  # the local stack's API port (its /_local/ routes)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def queue_urls(self) -> dict[str, str]:
        """Logical id -> URL of every SQS queue of the stack."""
        return {
            logical: physical
            for logical, physical in self.resources.items()
            if _QUEUE_URL.match(physical)
        }

    def function_invoker(self, logical_id: str) -> Invoker:
        """Invoke one of the stack's functions synchronously and return its answer; raises
        ReplayError when it crashed (a function error, a timeout) or could not be reached.
        The local stack serves Lambda's own Invoke API on its API port, so both go through
        the same client and the same code as the ops function (lambda_invoker)."""
        name = self.resources.get(logical_id)
        if not name:
            raise TargetError(f"{self.name} has no {logical_id}")
        client = boto3.client(
            "lambda",
            endpoint_url=self.local_api_url,  # None: AWS itself
            config=INVOKE_CONFIG,
        )
        return lambda_invoker(client, name, label=logical_id)

    def invoker(self, logical_id: str) -> Invoker:
        """As function_invoker, raising TargetError (what the show and audit commands report)."""
        invoke = self.function_invoker(logical_id)

        def invoke_function(event: dict[str, Any]) -> Mapping[str, Any]:
            try:
                return invoke(event)
            except ReplayError as error:
                raise TargetError(str(error)) from None

        return invoke_function


def local_target(api_url: str) -> StackTarget:
    try:
        response = httpx.get(api_url.rstrip("/") + "/_local/ready", timeout=5)
        response.raise_for_status()
        ready = response.json()
        return StackTarget(
            "local", dict(ready["resources"]), ready["aws_endpoint_url"], api_url.rstrip("/")
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        raise TargetError(f"no local stack answers at {api_url}: {error}") from None


def deployed_target(stack_name: str) -> StackTarget:
    cloudformation = boto3.client("cloudformation")
    resources: dict[str, str] = {}
    try:
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        for page in pages:
            for summary in page["StackResourceSummaries"]:
                resources[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
    except Exception as error:  # botocore's: no credentials, no such stack, access denied
        raise TargetError(f"cannot read stack {stack_name}: {error}") from None
    return StackTarget(stack_name, resources)
