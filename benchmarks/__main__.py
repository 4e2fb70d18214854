"""Runs every benchmarks/bench_*.py module in name order (or those named on the command line)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import benchmarks


def main(argv: list[str]) -> int:
    # Powertools reads these when tts_sync.observability is first imported, by whichever
    # benchmark comes first: set them before any of them runs.
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Bench")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if info.name.startswith("bench_")
    )
    selected = [name for name in names if not argv or any(arg in name for arg in argv)]
    for name in selected:
        print(f"\n== {name} ==", flush=True)
        importlib.import_module(f"benchmarks.{name}").run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
