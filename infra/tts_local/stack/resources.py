"""Creates the template's resources: AWS ones in moto, local ones (functions, APIs, mappings) as
records the stack runs itself. Unknown types get a name and an ARN so references still resolve.

Resources are created on first reference, so CloudFormation's dependency order needs no graph.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tts_local.stack.aws_clients import MotoClients
from tts_local.stack.intrinsics import IntrinsicError, Resolver
from tts_local.stack.naming import ACCOUNT_ID, arn, physical_name, stable_suffix
from tts_local.stack.template_loader import ExpandedTemplate

log = logging.getLogger(__name__)


class ProvisioningError(Exception):
    """A resource could not be created in moto; the message names it."""


@dataclass
class Resource:
    logical_id: str
    type: str
    physical_id: str  # what Ref returns
    attributes: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)  # resolved; local types only


@dataclass(frozen=True)
class StackIdentity:
    name: str
    region: str
    api_url: str  # where the local HTTP APIs answer


Creator = Callable[["Provisioner", str, dict[str, Any]], Resource]


class Provisioner:
    def __init__(
        self,
        template: ExpandedTemplate,
        identity: StackIdentity,
        clients: MotoClients,
        parameter_overrides: dict[str, str],
    ) -> None:
        self.template = template
        self.identity = identity
        self.clients = clients
        self.resources: dict[str, Resource] = {}
        self._in_progress: set[str] = set()
        self.resolver = Resolver(
            parameters=_parameter_values(template.parameters, parameter_overrides),
            pseudo={
                "AWS::Region": identity.region,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::StackName": identity.name,
                "AWS::StackId": arn(
                    "cloudformation", identity.region, f"stack/{identity.name}/local"
                ),
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::Partition": "aws",
                "AWS::NotificationARNs": [],  # type: ignore[dict-item]
            },
            conditions=template.conditions,
            mappings=template.mappings,
            lookup=self._lookup,
        )

    def provision_all(self) -> dict[str, Resource]:
        for logical_id in self.template.resources:
            if self._enabled(logical_id):
                self.ensure(logical_id)
        return self.resources

    def outputs(self) -> dict[str, Any]:
        values = {}
        for name, output in self.template.outputs.items():
            if "Condition" in output and not self.resolver.condition(output["Condition"]):
                continue
            try:
                values[name] = self.resolver.resolve(output.get("Value"))
            except (IntrinsicError, KeyError) as exc:
                log.debug("output %s not resolvable locally: %s", name, exc)
        return values

    def ensure(self, logical_id: str) -> Resource:
        if logical_id in self.resources:
            return self.resources[logical_id]
        definition = self.template.resources.get(logical_id)
        if definition is None:
            raise IntrinsicError(f"reference to unknown resource {logical_id!r}")
        if logical_id in self._in_progress:
            raise IntrinsicError(f"circular reference through {logical_id!r}")
        self._in_progress.add(logical_id)
        try:
            resource_type = definition["Type"]
            creator = CREATORS.get(resource_type)
            if creator is None:
                resource = self._placeholder(logical_id, definition)
            else:
                properties = self.resolver.resolve(definition.get("Properties", {})) or {}
                try:
                    resource = creator(self, logical_id, properties)
                except (ClientError, KeyError, ValueError, TypeError) as exc:
                    raise ProvisioningError(f"{logical_id} ({resource_type}): {exc}") from exc
                log.debug("created %s %s -> %s", resource_type, logical_id, resource.physical_id)
        finally:
            self._in_progress.discard(logical_id)
        self.resources[logical_id] = resource
        return resource

    def name_for(
        self, logical_id: str, explicit: Any, *, max_length: int = 64, ending: str = ""
    ) -> str:
        if explicit:
            return str(explicit)
        return physical_name(self.identity.name, logical_id, max_length=max_length, ending=ending)

    def _enabled(self, logical_id: str) -> bool:
        condition = self.template.resources[logical_id].get("Condition")
        return condition is None or self.resolver.condition(condition)

    def _lookup(self, logical_id: str, attribute: str | None) -> Any:
        resource = self.ensure(logical_id)
        if attribute is None:
            return resource.physical_id
        if attribute not in resource.attributes:
            raise IntrinsicError(f"{logical_id} ({resource.type}) has no attribute {attribute!r}")
        return resource.attributes[attribute]

    def _placeholder(self, logical_id: str, definition: dict[str, Any]) -> Resource:
        """Types we do not run (IAM, logs, layers...): a plausible name and ARN, nothing created."""
        resource_type = definition["Type"]
        service, _, kind = resource_type.removeprefix("AWS::").partition("::")
        name_key = next(
            (key for key in (f"{kind}Name", "Name") if key in definition.get("Properties", {})),
            None,
        )
        explicit = None
        if name_key:
            try:
                explicit = self.resolver.resolve(definition["Properties"][name_key])
            except (IntrinsicError, KeyError):
                explicit = None
        name = self.name_for(logical_id, explicit)
        resource_arn = arn(service.lower(), self.identity.region, f"{kind.lower()}:{name}")
        log.debug("not run locally: %s %s", resource_type, logical_id)
        return Resource(logical_id, resource_type, name, {"Arn": resource_arn})


def _parameter_values(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    unknown = set(overrides) - set(declared)
    if unknown:
        raise IntrinsicError(f"unknown parameter(s) in overrides: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        value = overrides.get(name, spec.get("Default"))
        if value is None:
            raise IntrinsicError(f"parameter {name} has no Default; pass it as an override")
        allowed = spec.get("AllowedValues")
        if allowed and str(value) not in [str(item) for item in allowed]:
            raise IntrinsicError(f"parameter {name}={value!r} is not one of {allowed}")
        if spec.get("Type") in ("CommaDelimitedList",) or str(spec.get("Type", "")).startswith(
            "List<"
        ):
            value = (
                [item.strip() for item in str(value).split(",")]
                if isinstance(value, str)
                else value
            )
        values[name] = value
    return values


# --------------------------------------------------------------------- AWS resources in moto


def _create_table(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = p.name_for(logical_id, props.get("TableName"), max_length=255)
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            request[key] = [_strip_index(index) for index in props[key]]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    if props.get("SSESpecification", {}).get("SSEEnabled"):
        request["SSESpecification"] = {"Enabled": True}
    if props.get("Tags"):
        request["Tags"] = props["Tags"]
    table = p.clients.dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        p.clients.dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return Resource(logical_id, "AWS::DynamoDB::Table", name, attributes, props)


def _strip_index(index: dict[str, Any]) -> dict[str, Any]:
    # CloudFormation-only keys the DynamoDB API rejects.
    return {
        key: value
        for key, value in index.items()
        if key not in ("ContributorInsightsSpecification", "WarmThroughput")
    }


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)


def _create_queue(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    fifo = str(props.get("FifoQueue", "false")).lower() == "true"
    name = p.name_for(
        logical_id, props.get("QueueName"), max_length=80, ending=".fifo" if fifo else ""
    )
    attributes = {key: _attribute_text(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in props:
            value = props[key]
            attributes[key] = value if isinstance(value, str) else json.dumps(value)
    request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if props.get("Tags"):
        request["tags"] = {tag["Key"]: tag["Value"] for tag in props["Tags"]}
    url = p.clients.sqs.create_queue(**request)["QueueUrl"]
    queue_arn = arn("sqs", p.identity.region, name)
    return Resource(
        logical_id,
        "AWS::SQS::Queue",
        url,
        {"Arn": queue_arn, "QueueName": name, "QueueUrl": url},
        props,
    )


def _attribute_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


_PASSWORD_OPTIONS = (
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "ExcludeLowercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)


def _create_secret(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = p.name_for(logical_id, props.get("Name"), max_length=256)
    request: dict[str, Any] = {"Name": name}
    if props.get("Description"):
        request["Description"] = props["Description"]
    if "SecretString" in props:
        request["SecretString"] = props["SecretString"]
    elif "GenerateSecretString" in props:
        request["SecretString"] = _generated_secret(p, props["GenerateSecretString"])
    if props.get("Tags"):
        request["Tags"] = props["Tags"]
    secret_arn = p.clients.secretsmanager.create_secret(**request)["ARN"]
    return Resource(
        logical_id, "AWS::SecretsManager::Secret", secret_arn, {"Id": secret_arn}, props
    )


def _generated_secret(p: Provisioner, spec: dict[str, Any]) -> str:
    options = {key: spec[key] for key in _PASSWORD_OPTIONS if key in spec}
    password = p.clients.secretsmanager.get_random_password(**options)["RandomPassword"]
    template = spec.get("SecretStringTemplate")
    if template is None:
        return password
    document = json.loads(template)
    document[spec["GenerateStringKey"]] = password
    return json.dumps(document)


def _create_event_bus(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = p.name_for(logical_id, props.get("Name"), max_length=256)
    bus_arn = p.clients.events.create_event_bus(Name=name)["EventBusArn"]
    return Resource(
        logical_id, "AWS::Events::EventBus", name, {"Arn": bus_arn, "Name": name}, props
    )


def _create_rule(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = p.name_for(logical_id, props.get("Name"))
    request: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
    for key in ("ScheduleExpression", "Description", "EventBusName", "RoleArn"):
        if props.get(key):
            request[key] = props[key]
    if "EventPattern" in props:
        pattern = props["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    rule_arn = p.clients.events.put_rule(**request)["RuleArn"]
    targets = [_event_target(target) for target in props.get("Targets", [])]
    if targets:
        p.clients.events.put_targets(
            Rule=name, EventBusName=props.get("EventBusName", "default"), Targets=targets
        )
    return Resource(logical_id, "AWS::Events::Rule", name, {"Arn": rule_arn}, props)


def _event_target(target: dict[str, Any]) -> dict[str, Any]:
    allowed = ("Id", "Arn", "Input", "InputPath", "RoleArn", "InputTransformer")
    return {key: target[key] for key in allowed if key in target}


def _create_parameter(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = p.name_for(logical_id, props.get("Name"), max_length=2048)
    request: dict[str, Any] = {
        "Name": name,
        "Value": str(props["Value"]),
        "Type": props.get("Type", "String"),
        "Overwrite": True,
    }
    if props.get("Description"):
        request["Description"] = props["Description"]
    p.clients.ssm.put_parameter(**request)
    return Resource(
        logical_id,
        "AWS::SSM::Parameter",
        name,
        {"Type": request["Type"], "Value": request["Value"]},
        props,
    )


# --------------------------------------------------------------------- resources run locally


def _create_function(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = p.name_for(logical_id, props.get("FunctionName"))
    function_arn = arn("lambda", p.identity.region, f"function:{name}")
    return Resource(logical_id, "AWS::Lambda::Function", name, {"Arn": function_arn}, props)


def _create_mapping(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    uuid = stable_suffix(p.identity.name, logical_id, length=32, alphabet="0123456789abcdef")
    mapping_id = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
    return Resource(
        logical_id, "AWS::Lambda::EventSourceMapping", mapping_id, {"Id": mapping_id}, props
    )


def _create_api(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    """HTTP and REST APIs: served by the local API server; Ref is the API id."""
    api_id = stable_suffix(
        p.identity.name, logical_id, length=10, alphabet="abcdefghijklmnopqrstuvwxyz0123456789"
    )
    resource_type = p.template.resources[logical_id]["Type"]
    attributes = {"ApiId": api_id, "ApiEndpoint": p.identity.api_url, "RootResourceId": api_id}
    return Resource(logical_id, resource_type, api_id, attributes, props)


def _create_scheduler_schedule(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    """EventBridge Scheduler (SAM ScheduleV2): run by the local scheduler, not created in moto."""
    name = p.name_for(logical_id, props.get("Name"))
    schedule_arn = arn("scheduler", p.identity.region, f"schedule/default/{name}")
    return Resource(logical_id, "AWS::Scheduler::Schedule", name, {"Arn": schedule_arn}, props)


def _alias_of_function(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    """Versions and aliases (AutoPublishAlias) stand for the function itself locally."""
    target = props.get("FunctionName", "")
    function = next(
        (r for r in p.resources.values() if target in (r.physical_id, r.attributes.get("Arn"))),
        None,
    )
    resource_type = p.template.resources[logical_id]["Type"]
    if function is None:
        return Resource(logical_id, resource_type, str(target), {"Arn": str(target)}, props)
    function_arn = function.attributes["Arn"]
    return Resource(logical_id, resource_type, function_arn, {"Arn": function_arn}, props)


CREATORS: dict[str, Creator] = {
    "AWS::DynamoDB::Table": _create_table,
    "AWS::SQS::Queue": _create_queue,
    "AWS::SecretsManager::Secret": _create_secret,
    "AWS::Events::EventBus": _create_event_bus,
    "AWS::Events::Rule": _create_rule,
    "AWS::SSM::Parameter": _create_parameter,
    "AWS::Lambda::Function": _create_function,
    "AWS::Lambda::EventSourceMapping": _create_mapping,
    "AWS::ApiGatewayV2::Api": _create_api,
    "AWS::ApiGateway::RestApi": _create_api,
    "AWS::Scheduler::Schedule": _create_scheduler_schedule,
    "AWS::Lambda::Version": _alias_of_function,
    "AWS::Lambda::Alias": _alias_of_function,
}
