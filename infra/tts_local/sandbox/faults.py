"""Fault injection ("the next N calls to this path fail like so") and per-shop throttling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

FaultKind = Literal[
    "5xx",
    "timeout",
    "429",
    "sku_errors",
    "token_expired",
    "omit_orders",
    "range_spill",
    "garbled",
    "slow",
    "malformed_orders",
    "reject_orders",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
# Kinds that may strike after the request was applied (after_apply=True): TikTok did the work,
# then the answer was lost (5xx, garbled body), came too late (timeout) or just came late (slow).
AFTER_APPLY_KINDS: tuple[str, ...] = ("5xx", "timeout", "garbled", "slow")


@dataclass
class Fault:
    path: str  # exact path, or a prefix ending in "*"
    kind: FaultKind
    remaining: int = 1
    status: int = 503  # for 5xx
    code: int | None = None  # envelope code for 5xx (default: none, like a load balancer page)
    retry_after: float | None = None  # for 429
    sleep_seconds: float = 3.0  # for timeout: longer than the client's read timeout
    sku_ids: list[str] = field(default_factory=list)  # for sku_errors: empty = every SKU
    # for omit_orders / malformed_orders / reject_orders: empty = every order
    order_ids: list[str] = field(default_factory=list)
    spill_seconds: int = 60  # for range_spill: how far outside the time window results reach
    # 5xx, timeout, garbled, slow: strike after the request was applied (state changed, tokens
    # issued, package shipped), so only the answer is lost or late. Default: before, nothing
    # applied (for slow: the request waits sleep_seconds, then runs and answers normally).
    after_apply: bool = False

    def matches(self, path: str) -> bool:
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; one of {FAULT_KINDS}")
        if fault.after_apply and fault.kind not in AFTER_APPLY_KINDS:
            raise ValueError(f"after_apply is for {AFTER_APPLY_KINDS}, not {fault.kind!r}")
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str) -> Fault | None:
        """The first armed fault for `path`, consuming one of its shots."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(path):
                    fault.remaining -= 1
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults if f.remaining > 0]


class ShopThrottle:
    """TikTok's side of the budget: a token bucket per shop (burst = one second of rate)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # shop_id -> (tokens, updated_at)
        self._lock = threading.Lock()
        self.throttled = 0
        self.admitted = 0

    def admit(self, shop_id: str, qps: float | None) -> bool:
        if qps is None:
            return True
        burst = max(1.0, qps)
        with self._lock:
            now = self._clock()
            tokens, updated = self._buckets.get(shop_id, (burst, now))
            tokens = min(burst, tokens + (now - updated) * qps)
            if tokens >= 1.0:
                self._buckets[shop_id] = (tokens - 1.0, now)
                self.admitted += 1
                return True
            self._buckets[shop_id] = (tokens, now)
            self.throttled += 1
            return False

    def reset(self, shop_id: str | None = None) -> None:
        with self._lock:
            if shop_id is None:
                self._buckets.clear()
                self.throttled = self.admitted = 0
            else:
                self._buckets.pop(shop_id, None)
