"""The one observability module: every function logs, traces and counts through these objects.

Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE, set
per function in template.yaml. Log with keys, never f-strings, and never secrets or buyer PII.

Tracing costs its import only where it is on: where Powertools would disable the Tracer anyway
(POWERTOOLS_TRACE_DISABLED, outside Lambda, SAM local), it gets a provider that records nothing,
so the X-Ray SDK (about half of a function's cold import) is never loaded.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment


def tracing_is_on() -> bool:
    """What Powertools' Tracer decides for itself (Tracer._is_tracer_disabled), read the same
    way: on in a Lambda runtime unless POWERTOOLS_TRACE_DISABLED or an emulator says otherwise."""
    if resolve_truthy_env_var_choice(env=os.getenv("POWERTOOLS_TRACE_DISABLED", "false")):
        return False
    in_emulator = os.getenv("AWS_SAM_LOCAL") or os.getenv("AWS_CHALICE_CLI_MODE")
    return bool(os.getenv("LAMBDA_TASK_ROOT")) and not in_emulator


class _Unrecorded(BaseSegment):
    def close(self, end_time: int | None = None) -> None: ...

    def add_subsegment(self, subsegment: Any) -> None: ...

    def remove_subsegment(self, subsegment: Any) -> None: ...

    def put_annotation(self, key: str, value: Any) -> None: ...

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None: ...


class NoTracingProvider(BaseProvider):
    """A Tracer provider that records nothing: the decorators keep working, nothing is sent."""

    @contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _Unrecorded()

    @asynccontextmanager
    async def in_subsegment_async(self, name: Any = None, **kwargs: Any) -> Any:
        yield _Unrecorded()

    def put_annotation(self, key: str, value: Any) -> None: ...

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...

    def patch(self, modules: Sequence[str]) -> None: ...

    def patch_all(self) -> None: ...


logger = Logger()
tracer = Tracer() if tracing_is_on() else Tracer(disabled=True, provider=NoTracingProvider())
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer", "tracing_is_on"]
