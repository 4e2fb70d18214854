"""The local stack: template.yaml run on loopback with moto, no AWS account and no Docker."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tts_local.stack.functions import Invocation
    from tts_local.stack.local_stack import LocalStack, StackSettings

__all__ = ["Invocation", "LocalStack", "StackSettings"]

# Loaded on first use, not with the package: every function worker and the moto child start as
# `python -m tts_local.stack.<module>`, which imports this package first, and LocalStack pulls in
# the template loader (cfn-lint, about 1 s of imports) that none of them needs.
_HOMES = {
    "Invocation": "tts_local.stack.functions",
    "LocalStack": "tts_local.stack.local_stack",
    "StackSettings": "tts_local.stack.local_stack",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
