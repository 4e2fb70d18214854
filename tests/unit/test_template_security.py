"""What the template security scan cannot see (see .checkov.yaml for its waivers)."""

from __future__ import annotations

from typing import Any

from tests.support import template_resources


def test_every_queue_is_encrypted_at_rest() -> None:
    queues = {
        name: resource["Properties"]
        for name, resource in template_resources().items()
        if resource["Type"] == "AWS::SQS::Queue"
    }
    assert queues
    unencrypted = [
        name
        for name, properties in queues.items()
        if properties.get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in properties
    ]
    assert unencrypted == []


def _statements(function: str) -> list[dict[str, Any]]:
    policies = template_resources()[function]["Properties"]["Policies"]
    return [s for policy in policies if "Statement" in policy for s in policy["Statement"]]


def _arn_owners(resource: Any) -> set[str]:
    """The logical ids a statement's Resource names by !GetAtt X.Arn; "*" if it is anything
    else (a wildcard, a hand-written ARN)."""
    owners = set()
    for item in resource if isinstance(resource, list) else [resource]:
        target = item.get("Fn::GetAtt") if isinstance(item, dict) else None
        parts = target.split(".") if isinstance(target, str) else target
        owners.add(parts[0] if parts and parts[1:] == ["Arn"] else "*")
    return owners


def test_the_ops_function_is_granted_each_action_on_named_resources_only() -> None:
    resources = template_resources()
    queues = {n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    sources = {
        n for n in queues if resources[n]["Properties"].get("RedrivePolicy")
    }  # queues with a DLQ
    dlqs = {
        owner
        for n in sources
        for owner in _arn_owners(resources[n]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
    }
    granted: dict[str, set[str]] = {}
    for statement in _statements("OpsFunction"):
        assert statement["Effect"] == "Allow" and "NotResource" not in statement
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            granted.setdefault(action, set()).update(_arn_owners(statement["Resource"]))
    assert all("*" not in owners for owners in granted.values()), granted
    assert granted == {
        "sqs:GetQueueAttributes": queues,
        "sqs:ListDeadLetterSourceQueues": queues,
        "sqs:ReceiveMessage": dlqs,
        "sqs:DeleteMessage": dlqs,
        "sqs:ChangeMessageVisibility": dlqs,
        "sqs:SendMessage": sources,
        "dynamodb:Scan": {"EventsTable", "QuarantineTable"},
        "dynamodb:DescribeTable": {"EventsTable"},
        "dynamodb:PutItem": {"EventsTable"},
        "dynamodb:DeleteItem": {"QuarantineTable"},
        "lambda:InvokeFunction": {"EventRouterFunction"},
    }
    # No SAM policy template either (they can grant more than their name says).
    policies = resources["OpsFunction"]["Properties"]["Policies"]
    assert all(set(policy) == {"Statement"} for policy in policies)
