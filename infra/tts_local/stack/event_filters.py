"""Event source mapping FilterCriteria: the EventBridge pattern subset Lambda documents.

Supported: literal lists, prefix, suffix, anything-but, exists, numeric comparisons. A record
passes when any filter matches; SQS bodies and DynamoDB images are matched as parsed JSON.
"""

from __future__ import annotations

import contextlib
import json
import operator
from typing import Any

_NUMERIC = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compile_filters(criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    filters = (criteria or {}).get("Filters") or []
    return [
        json.loads(item["Pattern"]) if isinstance(item["Pattern"], str) else item["Pattern"]
        for item in filters
    ]


def passes(patterns: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    return not patterns or any(_matches(pattern, record) for pattern in patterns)


def _matches(pattern: dict[str, Any], value: Any) -> bool:
    for key, expected in pattern.items():
        present = isinstance(value, dict) and key in value
        actual = value.get(key) if isinstance(value, dict) else None
        if key == "body" and isinstance(actual, str):
            with contextlib.suppress(json.JSONDecodeError):
                actual = json.loads(actual)
        if isinstance(expected, dict):
            if not present or not _matches(expected, actual):
                return False
        elif not any(_matches_rule(rule, present, actual) for rule in expected):
            return False
    return True


def _matches_rule(rule: Any, present: bool, actual: Any) -> bool:
    if not isinstance(rule, dict):
        values = actual if isinstance(actual, list) else [actual]
        return present and rule in values
    if "exists" in rule:
        return present is bool(rule["exists"])
    if not present:
        return False
    if "prefix" in rule:
        return isinstance(actual, str) and actual.startswith(rule["prefix"])
    if "suffix" in rule:
        return isinstance(actual, str) and actual.endswith(rule["suffix"])
    if "anything-but" in rule:
        excluded = rule["anything-but"]
        excluded = excluded if isinstance(excluded, list) else [excluded]
        return actual not in excluded
    if "numeric" in rule:
        terms = rule["numeric"]
        try:
            number = float(actual)
        except (TypeError, ValueError):
            return False
        return all(_NUMERIC[terms[i]](number, float(terms[i + 1])) for i in range(0, len(terms), 2))
    return False
