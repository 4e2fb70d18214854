"""Package re-exports that load on first use (PEP 562), so importing one light name from a
package does not import its heavy siblings in a Lambda cold start (or a local-stack worker)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, module_of: Mapping[str, str]) -> Callable[[str], Any]:
    """The package's module `__getattr__`: each name in `module_of` is imported from the
    package's submodule named there on first use, then kept in the package like a plain
    import (so it is looked up once)."""

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
