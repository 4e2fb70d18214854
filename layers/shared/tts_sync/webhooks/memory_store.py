"""In-memory EventStore and credentials: for unit tests and anything that must not touch AWS."""

from __future__ import annotations

import threading

from tts_sync.credentials import AppCredentials
from tts_sync.errors import StorageUnavailableError
from tts_sync.webhooks.intake import QuarantinedDelivery, StoredEvent


class InMemoryEventStore:
    def __init__(self) -> None:
        self.events: dict[str, StoredEvent] = {}
        self.quarantined: list[QuarantinedDelivery] = []
        self.write_attempts = 0
        self.unavailable = False  # set True to act like a throttled/failing table
        self._lock = threading.Lock()

    def put_if_absent(self, event: StoredEvent) -> bool:
        with self._lock:
            self.write_attempts += 1
            if self.unavailable:
                raise StorageUnavailableError("ProvisionedThroughputExceededException")
            if event.event_key in self.events:
                return False
            self.events[event.event_key] = event
            return True

    def quarantine(self, delivery: QuarantinedDelivery) -> None:
        with self._lock:
            self.write_attempts += 1
            if self.unavailable:
                raise StorageUnavailableError("ProvisionedThroughputExceededException")
            self.quarantined.append(delivery)


class StaticCredentials:
    """Credentials that change only when a test says so; counts forced refreshes."""

    def __init__(self, app_key: str, app_secret: str, previous_app_secret: str | None = None):
        self.current = AppCredentials.model_validate(
            {
                "app_key": app_key,
                "app_secret": app_secret,
                "previous_app_secret": previous_app_secret,
            }
        )
        self.stored = self.current  # what a forced re-read would return
        self.refreshes = 0

    def get(self) -> AppCredentials:
        return self.current

    def refresh(self) -> AppCredentials | None:
        self.refreshes += 1
        self.current = self.stored
        return self.current
