"""One wiring pattern for every function: a frozen dependencies object built by a cached
factory, with one override for tests.

    @dataclass(frozen=True)
    class IntakeDependencies: ...

    intake_dependencies = Wiring(_build_intake_dependencies)
    intake_dependencies()                    # built once per container (reset_container())
    intake_dependencies.override(fakes)      # tests; override(None) restores the default
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from tts_sync.container import container_cached

T = TypeVar("T")


class Wiring(Generic[T]):
    def __init__(self, build: Callable[[], T], *, cached: bool = True) -> None:
        # cached=False for dependencies that must follow a change (e.g. a rotated app secret)
        # and cache their own parts instead.
        self._build = container_cached(build) if cached else build
        self._override: T | None = None

    def __call__(self) -> T:
        return self._override if self._override is not None else self._build()

    def override(self, dependencies: T | None) -> None:
        """Tests swap in their own wiring here (None restores the default)."""
        self._override = dependencies

    @property
    def overridden(self) -> bool:
        return self._override is not None
