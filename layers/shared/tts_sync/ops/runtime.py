"""Wiring of the ops function: its config (OPS_QUEUE_URLS and the tables), its AWS clients
and the EventRouterFunction invoker, built once per container (tests override them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, Json

from tts_sync.aws import dynamodb_client, lambda_client, sqs_client
from tts_sync.config import load_config
from tts_sync.ops.replay import Invoker, lambda_invoker
from tts_sync.wiring import Wiring

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient


class OpsConfig(BaseModel):
    # Logical id -> URL of every SQS queue of the stack (a template test keeps it complete).
    queue_urls: Json[dict[str, str]] = Field(alias="OPS_QUEUE_URLS")
    events_table_name: str = Field(alias="EVENTS_TABLE_NAME", min_length=1)
    quarantine_table_name: str = Field(alias="QUARANTINE_TABLE_NAME", min_length=1)
    event_router_function_name: str = Field(alias="EVENT_ROUTER_FUNCTION_NAME", min_length=1)


@dataclass(frozen=True)
class OpsDependencies:
    config: OpsConfig
    sqs: SQSClient
    dynamodb: DynamoDBClient
    invoke_router: Invoker  # EventRouterFunction, synchronously (the stream's consumer path)


def _default_dependencies() -> OpsDependencies:
    config = load_config(OpsConfig)

    def invoke_router(event: dict[str, Any]) -> Mapping[str, Any]:
        # The Lambda client is made on the first replay, not for a redrive.
        invoke = lambda_invoker(
            lambda_client(), config.event_router_function_name, label="EventRouterFunction"
        )
        return invoke(event)

    return OpsDependencies(
        config=config, sqs=sqs_client(), dynamodb=dynamodb_client(), invoke_router=invoke_router
    )


ops_dependencies = Wiring(_default_dependencies)
override_dependencies = ops_dependencies.override

__all__ = ["OpsConfig", "OpsDependencies", "ops_dependencies", "override_dependencies"]
