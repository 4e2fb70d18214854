"""Per-shop rate limiting shared by every concurrent caller.

The budget is a token bucket per shop: `rate` tokens a second, at most `burst` banked. After a
429 the shop's rate is halved for a cool-down and then recovers linearly, because TikTok no
longer publishes its limits and a 429 is the only signal that our guess is too high.

The bucket arithmetic is pure (`BucketState`, `BucketPolicy`) so the in-memory limiter here and
the DynamoDB adapter (ratelimit_dynamo.py) behave identically.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from tts_sync.tiktok.errors import RateLimitWaitExceededError
from tts_sync.tiktok.retry import Deadline


class RateLimiter(Protocol):
    """Port: the client calls `acquire` before every shop-scoped call."""

    def acquire(self, shop_id: str, deadline: Deadline) -> None:
        """Block until one call is allowed; RateLimitWaitExceededError if not before deadline."""
        ...

    def report_throttled(self, shop_id: str) -> None:
        """TikTok answered 429 for this shop: slow down."""
        ...


# Float refills land a hair under a whole token; count that as a whole one.
TOKEN_EPSILON = 1e-9


@dataclass(frozen=True)
class BucketPolicy:
    rate_per_second: float = 5.0
    burst: float = 5.0
    # Adaptive slow-down after a 429.
    throttle_factor: float = 0.5
    min_factor: float = 0.1
    cooldown_seconds: float = 10.0
    recovery_per_second: float = 0.05  # fraction of the full rate regained per second
    repenalty_after_seconds: float = 1.0  # 429s closer together than this halve only once


@dataclass(frozen=True)
class BucketState:
    tokens: float
    updated_at: float
    factor: float = 1.0  # current share of the full rate (1.0 = unpenalised)
    cooldown_until: float = 0.0

    @classmethod
    def fresh(cls, policy: BucketPolicy, now: float) -> BucketState:
        return cls(tokens=policy.burst, updated_at=now)

    def factor_at(self, now: float, policy: BucketPolicy) -> float:
        recovered = max(0.0, now - self.cooldown_until) * policy.recovery_per_second
        return min(1.0, self.factor + recovered) if self.factor < 1.0 else 1.0

    def refilled(self, now: float, policy: BucketPolicy) -> BucketState:
        # Callers' clocks differ (separate Lambdas): a lagging one sees no elapsed time and must
        # not move the stamp back either, or the next caller is credited that interval twice.
        now = max(now, self.updated_at)
        elapsed = now - self.updated_at
        # Integrate the rate at the start of the interval; intervals are short, so this is
        # conservative enough and keeps the state to a handful of numbers.
        rate = policy.rate_per_second * self.factor_at(self.updated_at, policy)
        tokens = min(policy.burst, self.tokens + elapsed * rate)
        factor = self.factor_at(now, policy)
        cooldown = self.cooldown_until if factor < 1.0 else 0.0
        # Recovery is folded into `factor`, so restart the linear ramp from now.
        return BucketState(
            tokens=tokens,
            updated_at=now,
            factor=factor,
            cooldown_until=max(cooldown, now) if factor < 1.0 else 0.0,
        )

    def reserved(self, policy: BucketPolicy) -> tuple[BucketState, float]:
        """Take one token, going into debt if none is banked; returns the new state and how
        long the caller must wait for its slot. Reserving (instead of "sleep, then retry")
        gives each concurrent caller its own slot, so they do not wake up together and race."""
        after = replace(self, tokens=self.tokens - 1.0)
        if after.tokens >= -TOKEN_EPSILON:
            return after, 0.0
        return after, -after.tokens / (policy.rate_per_second * self.factor)

    def reserved_block(self, policy: BucketPolicy, count: int) -> tuple[BucketState, list[float]]:
        """Take `count` tokens at once (one storage write for several calls): the new state and
        each token's wait, in order. The same arithmetic as `count` calls of `reserved`."""
        rate = policy.rate_per_second * self.factor
        waits = []
        for taken in range(1, count + 1):
            left = self.tokens - taken
            waits.append(0.0 if left >= -TOKEN_EPSILON else -left / rate)
        return replace(self, tokens=self.tokens - count), waits

    def throttled(self, now: float, policy: BucketPolicy) -> BucketState:
        now = max(now, self.updated_at)  # never backwards (see refilled)
        current = self.refilled(now, policy)
        # Concurrent callers see the same burst of 429s; count it as one signal, not N halvings.
        last_penalty = current.cooldown_until - policy.cooldown_seconds
        if current.factor < 1.0 and now - last_penalty < policy.repenalty_after_seconds:
            return replace(current, tokens=min(current.tokens, 0.0))
        return replace(
            current,
            factor=max(policy.min_factor, current.factor * policy.throttle_factor),
            cooldown_until=now + policy.cooldown_seconds,
            # Spend what is banked: a 429 means the banked budget was an illusion.
            tokens=min(current.tokens, 0.0),
        )


class InMemoryRateLimiter:
    """The same bucket in process memory (unit tests, the local stack, a single worker)."""

    def __init__(
        self,
        policy: BucketPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or BucketPolicy()
        self._clock = clock
        self._sleep = sleep
        self._states: dict[str, BucketState] = {}
        self._lock = threading.Lock()

    def state(self, shop_id: str) -> BucketState | None:
        with self._lock:
            return self._states.get(shop_id)

    def acquire(self, shop_id: str, deadline: Deadline) -> None:
        with self._lock:
            now = self._clock()
            current = self._states.get(shop_id) or BucketState.fresh(self.policy, now)
            taken, wait = current.refilled(now, self.policy).reserved(self.policy)
            if wait > deadline():
                raise RateLimitWaitExceededError(
                    "rate limiter could not grant a call before the deadline"
                )
            self._states[shop_id] = taken
        if wait > 0:
            self._sleep(wait)

    def report_throttled(self, shop_id: str) -> None:
        with self._lock:
            now = self._clock()
            current = self._states.get(shop_id) or BucketState.fresh(self.policy, now)
            self._states[shop_id] = current.throttled(now, self.policy)


class NoRateLimit:
    """Limiter that never waits (auth-host calls, tests that exercise something else)."""

    def acquire(self, shop_id: str, deadline: Deadline) -> None:
        return None

    def report_throttled(self, shop_id: str) -> None:
        return None
