"""Cold-start import cost of every function module against `import boto3`, in fresh interpreters,
interleaved so both see the same machine load."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

REPEATS = 7
REPO = Path(__file__).resolve().parents[1]

_BOTO3 = "import time; t=time.perf_counter(); import boto3; print(time.perf_counter()-t)"
# Lambda puts the function folder first on sys.path; the timed part is the module's import.
# The layer has no click/rich/pygments, so httpx skips its command-line client there; the dev
# environment has them (moto's server needs click), so the import is measured as the layer
# would make it: without that optional module.
_FUNCTION = (
    "import sys, time, importlib.util; sys.path.insert(0, {folder!r}); "
    "sys.modules['httpx._main'] = None; t=time.perf_counter(); "
    "spec=importlib.util.spec_from_file_location('app', {path!r}); "
    "m=importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
    "print(time.perf_counter()-t)"
)


def _time(code: str) -> float:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return float(result.stdout.strip().splitlines()[-1])


def run() -> None:
    functions = sorted(path.parent.name for path in (REPO / "functions").glob("*/app.py"))
    print(f"import time in a fresh interpreter, median of {REPEATS} (Lambda INIT cost of our code)")
    for name in functions:
        app = REPO / "functions" / name / "app.py"
        code = _FUNCTION.format(folder=str(app.parent), path=str(app))
        ours, boto = [], []
        for _ in range(REPEATS):
            boto.append(_time(_BOTO3))
            ours.append(_time(code))
        mine, base = statistics.median(ours), statistics.median(boto)
        print(
            f"  functions/{name:<18} {mine * 1000:7.1f} ms   import boto3 {base * 1000:7.1f} ms"
            f"   ratio {mine / base:.2f}x"
        )
