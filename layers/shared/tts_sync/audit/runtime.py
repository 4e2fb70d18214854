"""Configuration and container-wide wiring of the audit trail: a cached factory and the one
override for tests (tts_sync.wiring). Functions that write entries get the log through their
own contexts (orders' SyncContext, the stock ExportContext), built from this."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import BaseModel, Field

from tts_sync.audit.dynamo_store import DynamoAuditLog, DynamoAuditReader
from tts_sync.audit.ports import AuditLog, AuditReader
from tts_sync.aws import dynamodb_client
from tts_sync.config import load_config
from tts_sync.wiring import Wiring

DAY = 86_400


class AuditConfig(BaseModel):
    audit_table_name: str = Field(alias="AUDIT_TABLE_NAME", min_length=1)
    # How long entries are kept (the table's TTL): the AuditRetentionDays parameter.
    retention_days: int = Field(default=90, alias="TTS_AUDIT_RETENTION_DAYS", ge=1, le=3650)


@dataclass(frozen=True)
class AuditDependencies:
    log: AuditLog
    reader: AuditReader


def _default_dependencies() -> AuditDependencies:
    config = load_config(AuditConfig)
    client = dynamodb_client()
    return AuditDependencies(
        log=DynamoAuditLog(
            client,
            config.audit_table_name,
            retention_seconds=config.retention_days * DAY,
            clock=time.time,
        ),
        reader=DynamoAuditReader(client, config.audit_table_name),
    )


audit_dependencies = Wiring(_default_dependencies)
override_dependencies = audit_dependencies.override
