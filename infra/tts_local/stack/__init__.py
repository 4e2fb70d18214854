"""The local stack: template.yaml run on loopback with moto, no AWS account and no Docker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tts_sync.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tts_local.stack.functions import Invocation
    from tts_local.stack.local_stack import LocalStack, StackSettings

__all__ = ["Invocation", "LocalStack", "StackSettings"]

# Loaded on first use, not with the package: every function worker and the moto child start as
# `python -m tts_local.stack.<module>`, which imports this package first, and LocalStack pulls in
# the template loader (cfn-lint, about 1 s of imports) that none of them needs.
__getattr__ = lazy_exports(
    __name__,
    {"Invocation": "functions", "LocalStack": "local_stack", "StackSettings": "local_stack"},
)
