"""Back-off policy and deadlines, kept apart from HTTP so they can be tested with plain numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Deadlines live in tts_sync.deadline (no HTTP imports); re-exported for the client's callers.
from tts_sync.deadline import Deadline, deadline_after, deadline_from_lambda_context

__all__ = ["BackoffPolicy", "Deadline", "deadline_after", "deadline_from_lambda_context"]


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential back-off with full jitter (delay ~ U(0, min(cap, base * 2**attempt)))."""

    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    max_attempts: int = 8

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the delay after failed attempt number `attempt` (0-based)."""
        return float(min(self.cap_seconds, self.base_seconds * (2 ** min(attempt, 32))))

    def delay(
        self, attempt: int, random: Callable[[], float], retry_after: float | None = None
    ) -> float:
        """Seconds to wait; Retry-After is a floor (TikTok told us when to come back)."""
        jittered = random() * self.ceiling(attempt)
        if retry_after is not None:
            return max(jittered, min(retry_after, self.cap_seconds))
        return jittered
