"""tts-sync shared package: domain code, adapters and observability shared by every function."""

import sys

__version__ = "0.1.0"

# httpx imports its command-line client (click, rich, pygments: a fifth of a function's cold
# import) whenever those happen to be installed. The dev environment and the local stack have
# them (moto's server needs click); the Lambda layer does not. Marking the module absent makes
# httpx take the path it takes in Lambda, where its own stub stands in for the CLI entry point,
# which no code here calls.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
