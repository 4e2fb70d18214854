"""Ports of the audit trail. Adapters: dynamo_store (AuditTable); tests use an in-memory fake
(tests/unit/audit/fakes.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tts_sync.audit.models import AuditEntry


class AuditLog(Protocol):
    def record(self, entries: Sequence[AuditEntry]) -> None:
        """Store the entries (a put per key: the same key overwrites). May raise; callers go
        through tts_sync.audit.trail.write_audit, which never lets a failure through."""
        ...


class AuditReader(Protocol):
    def entries(
        self, subject: str, *, since: str = "", limit: int | None = None
    ) -> list[AuditEntry]:
        """A subject's entries in key order (oldest first), from sort key `since` on."""
        ...


class NoAuditLog:
    """Records nothing: the default of contexts built without an audit log (tests, tools)."""

    def record(self, entries: Sequence[AuditEntry]) -> None:
        return None


NO_AUDIT = NoAuditLog()
