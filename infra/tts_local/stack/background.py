"""The daemon-thread lifecycle shared by the event source mappings and the scheduler."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod


class BackgroundLoop(ABC):
    """Runs `_run` on a daemon thread; `_run` returns once `_stop` is set."""

    def __init__(self, thread_name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._failing = False

    def _report_failure(self, log: logging.Logger, what: str, exc: Exception) -> None:
        """Logs the first of a run of failures as one line (its traceback at debug level);
        the repeats are not logged. A dead moto once made every poll print a traceback: 77,000
        lines in eight minutes, hiding the one line that said what had happened."""
        if self._failing:
            log.debug("%s failed again", what, exc_info=True)
            return
        self._failing = True
        log.warning(
            "%s failed: %s: %s (repeats not logged until it recovers)",
            what,
            type(exc).__name__,
            exc,
        )
        log.debug("%s failure", what, exc_info=True)

    def _report_success(self, log: logging.Logger, what: str) -> None:
        if self._failing:
            self._failing = False
            log.warning("%s recovered", what)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    @abstractmethod
    def _run(self) -> None: ...
