"""OrderSyncFunction is granted on OrdersTable only what its code calls (least privilege):
BatchGetItem (get_many), PutItem (the order write's transaction), UpdateItem (clear_pending),
and Query on the indexes only (pending events, ship deadlines)."""

from __future__ import annotations

from typing import Any

from tests.support import template_resources


def _grants(function: str) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for policy in template_resources()[function]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"]
            resources: Any = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                key = str(resource)
                grants.setdefault(key, set()).update(
                    [actions] if isinstance(actions, str) else actions
                )
    return grants


def test_order_sync_function_has_only_the_order_table_actions_it_uses() -> None:
    grants = _grants("OrderSyncFunction")
    table = {k: v for k, v in grants.items() if "OrdersTable" in k and "index" not in k}
    indexes = {k: v for k, v in grants.items() if "OrdersTable" in k and "index" in k}
    assert set().union(*table.values()) == {
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    assert set().union(*indexes.values()) == {"dynamodb:Query"}
