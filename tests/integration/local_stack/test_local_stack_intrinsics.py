"""Intrinsic functions resolved the way CloudFormation resolves them."""

from __future__ import annotations

from typing import Any

import pytest

from tts_local.stack.intrinsics import IntrinsicError, Resolver

ATTRIBUTES = {
    ("Queue", None): "http://moto/123456789012/my-queue",
    ("Queue", "Arn"): "arn:aws:sqs:us-east-1:123456789012:my-queue",
    ("Queue", "QueueName"): "my-queue",
    ("Table", "StreamArn"): "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1",
}


def lookup(logical_id: str, attribute: str | None) -> Any:
    if (logical_id, attribute) not in ATTRIBUTES:
        raise IntrinsicError(f"no {logical_id}.{attribute}")
    return ATTRIBUTES[(logical_id, attribute)]


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(
        parameters={"Stage": "dev", "Zones": ["a", "b"]},
        pseudo={
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::StackName": "st",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
        },
        conditions={
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
            "DevInUs": {
                "Fn::And": [
                    {"Condition": "IsDev"},
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                ]
            },
            "ProdOrDev": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsDev"}]},
        },
        mappings={"Sizes": {"dev": {"Memory": 128}}},
        lookup=lookup,
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ({"Ref": "Queue"}, "http://moto/123456789012/my-queue"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:aws:sqs:us-east-1:123456789012:my-queue"),
        ({"Fn::GetAtt": "Queue.QueueName"}, "my-queue"),
        (
            {"Fn::Sub": "${AWS::StackName}-${Stage}-${Queue.QueueName}-${!Literal}"},
            "st-dev-my-queue-${Literal}",
        ),
        (
            {"Fn::Sub": ["${Name}.${AWS::URLSuffix}", {"Name": {"Ref": "Stage"}}]},
            "dev.amazonaws.com",
        ),
        (
            {"Fn::Join": [":", ["arn", {"Ref": "AWS::Partition"}, {"Ref": "AWS::AccountId"}]]},
            "arn:aws:123456789012",
        ),
        ({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ({"Fn::Select": [0, {"Ref": "Zones"}]}, "a"),
        ({"Fn::If": ["IsProd", 90, 14]}, 14),
        ({"Fn::If": ["DevInUs", "yes", "no"]}, "yes"),
        ({"Fn::If": ["ProdOrDev", "yes", "no"]}, "yes"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}, 128),
        ({"Keep": 1, "Drop": {"Fn::If": ["IsProd", 2, {"Ref": "AWS::NoValue"}]}}, {"Keep": 1}),
        ([1, {"Ref": "AWS::NoValue"}, 2], [1, 2]),
    ],
)
def test_resolves(resolver: Resolver, template: Any, expected: Any) -> None:
    assert resolver.resolve(template) == expected


def test_unknown_references_fail_with_their_name(resolver: Resolver) -> None:
    with pytest.raises(IntrinsicError, match=r"Missing\.Arn"):
        resolver.resolve({"Fn::GetAtt": ["Missing", "Arn"]})
    with pytest.raises(IntrinsicError, match="NoSuchCondition"):
        resolver.resolve({"Fn::If": ["NoSuchCondition", 1, 2]})
