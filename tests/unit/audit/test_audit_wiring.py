"""AuditTable as template.yaml declares it (TTL, SSE, PITR in prod, least privilege for its
writers and readers), its retention setting, and the DynamoDB adapter's failure path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import template_resources
from tts_sync.audit.dynamo_store import DynamoAuditLog
from tts_sync.audit.models import AuditEntry, AuditKind
from tts_sync.audit.runtime import AuditConfig
from tts_sync.audit.trail import write_audit
from tts_sync.config import read_config
from tts_sync.errors import ConfigError, StorageUnavailableError


def _audit_grants(resources: dict[str, Any], function: str) -> set[str]:
    actions: set[str] = set()
    for policy in resources[function]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            named = statement["Resource"]
            for resource in named if isinstance(named, list) else [named]:
                if "AuditTable" in str(resource):
                    assert resource == {"Fn::GetAtt": "AuditTable.Arn"}  # the table, not "*"
                    given = statement["Action"]
                    actions.update([given] if isinstance(given, str) else given)
    return actions


def test_the_table_expires_entries_and_is_encrypted() -> None:
    table = template_resources()["AuditTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] == {
        "Fn::If": ["IsProd", True, False]
    }


def test_writers_may_only_put_and_ops_may_query() -> None:
    resources = template_resources()
    assert _audit_grants(resources, "EventRouterFunction") == {"dynamodb:PutItem"}
    assert _audit_grants(resources, "QuantityExportFunction") == {"dynamodb:PutItem"}
    assert _audit_grants(resources, "TrackingUploadFunction") == {"dynamodb:PutItem"}
    assert _audit_grants(resources, "OrderSyncFunction") == {"dynamodb:PutItem", "dynamodb:Query"}
    for function in ("WebhookFunction", "OAuthFunction", "TokenRefreshFunction"):
        assert _audit_grants(resources, function) == set()
    writers = (
        "EventRouterFunction",
        "OrderSyncFunction",
        "QuantityExportFunction",
        "TrackingUploadFunction",
    )
    for function in writers:
        env = resources[function]["Properties"]["Environment"]["Variables"]
        assert env["AUDIT_TABLE_NAME"] == {"Ref": "AuditTable"}
        assert env["TTS_AUDIT_RETENTION_DAYS"] == {"Ref": "AuditRetentionDays"}


def test_retention_defaults_to_90_days_and_refuses_nonsense() -> None:
    assert read_config(AuditConfig, {"AUDIT_TABLE_NAME": "t"}).retention_days == 90
    with pytest.raises(ConfigError, match="TTS_AUDIT_RETENTION_DAYS"):
        read_config(AuditConfig, {"AUDIT_TABLE_NAME": "t", "TTS_AUDIT_RETENTION_DAYS": "0"})
    with pytest.raises(ConfigError, match="AUDIT_TABLE_NAME"):
        read_config(AuditConfig, {})


class _ThrottledClient:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, **request: Any) -> None:
        if len(self.items) % 2:
            raise RuntimeError("ProvisionedThroughputExceededException")
        self.items.append(request["Item"])


def test_every_put_is_tried_and_a_failure_is_reported_then_swallowed() -> None:
    client = _ThrottledClient()
    log = DynamoAuditLog(client, "audit", retention_seconds=86_400, clock=lambda: 1_000.0)  # type: ignore[arg-type]
    entries = [
        AuditEntry(subject="order#1", kind=AuditKind.HYDRATION, at=1.0, ref=f"r{n}", shop_id="s")
        for n in range(1, 4)
    ]
    with pytest.raises(StorageUnavailableError, match="audit entries not written"):
        log.record(entries)
    assert client.items and client.items[0]["expires_at"] == {"N": "87400"}
    write_audit(log, entries)  # the main path's call: never raises
