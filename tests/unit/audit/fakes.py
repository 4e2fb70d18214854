"""An in-memory AuditTable: the same contract as DynamoAuditLog / DynamoAuditReader (a put per
key, the same key overwrites; entries read back in key order), thread-safe."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tts_sync.audit.models import AuditEntry
from tts_sync.errors import StorageUnavailableError


class MemoryAuditLog:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], AuditEntry] = {}
        self.puts = 0
        self.failing = False  # every record() raises, like a throttled or unreachable table
        self._lock = threading.Lock()

    def record(self, entries: Sequence[AuditEntry]) -> None:
        if self.failing:
            raise StorageUnavailableError("ProvisionedThroughputExceededException")
        with self._lock:
            for entry in entries:
                self.items[(entry.subject, entry.sort_key)] = entry
                self.puts += 1

    def entries(
        self, subject: str, *, since: str = "", limit: int | None = None
    ) -> list[AuditEntry]:
        with self._lock:
            found = [e for (s, k), e in sorted(self.items.items()) if s == subject and k >= since]
        return found[:limit] if limit is not None else found

    def all(self) -> list[AuditEntry]:
        with self._lock:
            return [e for _, e in sorted(self.items.items())]
