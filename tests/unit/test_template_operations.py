"""Every part of the stack an operator can be paged about has an alarm and a dashboard widget:
a queue, a DLQ, a function or a stream added to template.yaml without them fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support import template_resources

RESOURCES = template_resources()


def _of_type(kind: str) -> list[str]:
    return sorted(name for name, r in RESOURCES.items() if r["Type"] == kind)


def _refs(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, GetAtt, ${Sub})."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add((target.split(".") if isinstance(target, str) else target)[0])
        for inner in value.values():
            found |= _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refs(inner)
    elif isinstance(value, str):
        found |= {m.split(".")[0] for m in re.findall(r"\$\{([A-Za-z0-9.]+)\}", value)}
    return found


def _dead_letter_queues() -> set[str]:
    dlqs = set()
    for resource in RESOURCES.values():
        properties = resource.get("Properties", {})
        redrive = properties.get("RedrivePolicy", {})
        dlqs |= _refs(redrive.get("deadLetterTargetArn"))
        dlqs |= _refs(properties.get("DestinationConfig", {}))
        for target in properties.get("Targets", []):
            dlqs |= _refs(target.get("DeadLetterConfig", {}))
    return {name for name in dlqs if RESOURCES.get(name, {}).get("Type") == "AWS::SQS::Queue"}


def _alarms_on(metric: str) -> set[str]:
    """Logical ids alarmed on `metric` (directly or inside metric math)."""
    covered = set()
    for name in _of_type("AWS::CloudWatch::Alarm"):
        properties = RESOURCES[name]["Properties"]
        stats = [properties] + [
            m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m
        ]
        for stat in stats:
            if stat.get("MetricName") == metric:
                for dimension in stat.get("Dimensions", []):
                    covered |= _refs(dimension["Value"])
    return covered


def test_every_dead_letter_queue_alarms_on_depth_and_age() -> None:
    dlqs = _dead_letter_queues()
    assert dlqs
    assert dlqs - _alarms_on("ApproximateNumberOfMessagesVisible") == set()
    assert dlqs - _alarms_on("ApproximateAgeOfOldestMessage") == set()


def test_every_function_alarms_on_errors_and_throttles() -> None:
    functions = set(_of_type("AWS::Serverless::Function"))
    assert functions - _alarms_on("Errors") == set()
    assert functions - _alarms_on("Throttles") == set()


def test_every_stream_mapping_alarms_on_iterator_age() -> None:
    stream_readers = {
        next(iter(_refs(r["Properties"]["FunctionName"])))
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and "StreamArn" in json.dumps(r["Properties"]["EventSourceArn"])
    }
    assert stream_readers
    assert stream_readers - _alarms_on("IteratorAge") == set()


def test_the_dashboard_shows_every_queue_and_function() -> None:
    (dashboard,) = _of_type("AWS::CloudWatch::Dashboard")
    body = RESOURCES[dashboard]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    assert all(widget["properties"]["metrics"] for widget in widgets)
    shown = _refs(body)
    queues = set(_of_type("AWS::SQS::Queue"))
    functions = set(_of_type("AWS::Serverless::Function"))
    assert queues - shown == set()
    assert functions - shown == set()


def test_every_alarm_is_in_the_readme_runbook() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    runbook = readme[readme.index("### Alarms (runbook)") :]
    missing = [
        name
        for name in _of_type("AWS::CloudWatch::Alarm")
        if f"`{name}`" not in runbook
        and not (name.endswith("ThrottlesAlarm") and "`<Function>ThrottlesAlarm`" in runbook)
    ]
    assert missing == []


def test_the_ops_function_knows_every_queue_of_the_template() -> None:
    """Redrive finds the DLQs among OPS_QUEUE_URLS: a queue added without its entry would
    never be redriven from the console."""
    variables = RESOURCES["OpsFunction"]["Properties"]["Environment"]["Variables"]
    text = variables["OPS_QUEUE_URLS"]["Fn::Sub"]
    urls = json.loads(re.sub(r"\$\{([A-Za-z0-9]+)\}", r"ref:\1", text))
    assert urls == {name: f"ref:{name}" for name in _of_type("AWS::SQS::Queue")}
    assert variables["EVENT_ROUTER_FUNCTION_NAME"] == {"Ref": "EventRouterFunction"}
    assert variables["EVENTS_TABLE_NAME"] == {"Ref": "EventsTable"}
    assert variables["QUARANTINE_TABLE_NAME"] == {"Ref": "QuarantineTable"}
