"""Per-container caches: config, clients, providers and dependencies are built once per Lambda
container. Registering them here gives tests one way to start from a fresh container."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_caches: list[Any] = []


def container_cached(func: F) -> F:
    """functools.cache, remembered so that reset_container() can clear it."""
    cached = functools.cache(func)
    _caches.append(cached)
    return cached  # type: ignore[return-value]


def reset_container() -> None:
    """Forget everything cached per container (tests switching environments or endpoints)."""
    for cached in _caches:
        cached.cache_clear()
