"""Which stack an ops command works on: a deployed one (CloudFormation stack name, ordinary AWS
credentials) or the local stack (its READY info, read from its API port)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import httpx

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

    def invoker(self, logical_id: str) -> Callable[[dict[str, Any]], Mapping[str, Any]]:
        """Invoke one of the stack's functions synchronously and return its answer; raises
        TargetError when it crashed (a function error, a timeout)."""
        if self.local_api_url:
            url = f"{self.local_api_url}/_local/functions/{logical_id}/invoke"

            def invoke_local(event: dict[str, Any]) -> Mapping[str, Any]:
                answer = httpx.post(url, json=event, timeout=900).json()
                if not answer.get("ok"):
                    raise TargetError(f"{logical_id} failed: {answer.get('error')}")
                return answer.get("payload") or {}

            return invoke_local
        client = self.client("lambda")
        name = self.resources[logical_id]

        def invoke_deployed(event: dict[str, Any]) -> Mapping[str, Any]:
            response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
            answer = json.loads(response["Payload"].read() or b"{}")
            if response.get("FunctionError"):
                raise TargetError(f"{logical_id} failed: {answer.get('errorMessage', answer)}")
            return answer if isinstance(answer, dict) else {}

        return invoke_deployed


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
