"""Deferred models and threads: pydantic 2.13 builds a deferred model on its first use with no
lock (pydantic #13419/#13438), so code that fans out to threads builds the models first
(tts_sync.models_build). Each check runs in a fresh interpreter: the models are unbuilt there."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Rounds of: the small models of tiktok.models put back in the state defer_build leaves them
# in at import (what ModelMetaclass does: mocks, not complete), then THREADS threads that meet
# at each model and first-validate it together, a thread switch every microsecond. Unguarded,
# about one first use in a hundred fails (a few a second here): that run stops at its first
# failure or at its time budget. Guarded (build_deferred first, as the fan-outs do), no round
# may fail.
_RACE = """
import json, sys, threading, time
from pydantic import BaseModel
from pydantic._internal._mock_val_ser import set_model_mocks
import tts_sync.tiktok.models as models
from tts_sync.models_build import build_deferred

SECONDS, THREADS, guarded = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "guarded"
ATTRS = ("__pydantic_core_schema__", "__pydantic_validator__", "__pydantic_serializer__")
classes = [
    c for c in vars(models).values()
    if isinstance(c, type) and issubclass(c, BaseModel) and c.__module__ == models.__name__
    and len(c.model_fields) <= 2  # quick to build: more first uses a second
]
assert len(classes) > 5 and not any(c.__pydantic_complete__ for c in classes)
sys.setswitchinterval(1e-6)
rounds, failed_rounds, errors = 0, 0, []
deadline = time.monotonic() + SECONDS
while time.monotonic() < deadline:
    if rounds:  # round 0 uses the classes as the import left them
        for model in classes:
            for attr in ATTRS:
                if attr in model.__dict__:
                    delattr(model, attr)
            model.__pydantic_complete__ = False
            set_model_mocks(model)
    if guarded:
        build_deferred(models)
        errors += [f"{c.__name__} left unbuilt" for c in classes if not c.__pydantic_complete__]
    arrived, lock, round_errors = [0], threading.Lock(), []

    def first_use():
        for n, model in enumerate(classes, start=1):
            with lock:
                arrived[0] += 1
            while arrived[0] < THREADS * n:
                pass
            try:
                model.__pydantic_validator__.validate_python  # what model_validate() reads
            except Exception as exc:
                round_errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=first_use) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rounds += 1
    errors += round_errors
    failed_rounds += bool(round_errors)
    if round_errors and not guarded:
        break
print(json.dumps({"rounds": rounds, "failed_rounds": failed_rounds, "errors": errors[:3]}))
"""

# The quantity export's fan-out, stopped where its pool would start: the models its threads use
# must be complete by then, and not before (the cold import leaves them unbuilt).
_FAN_OUT = """
import json
from types import SimpleNamespace
from pydantic import BaseModel
from tts_sync.audit import models as audit_models
from tts_sync.catalog import models as catalog_models
from tts_sync.shops import models as shop_models
from tts_sync.stock import export, models as stock_models
from tts_sync.tiktok import models as tiktok_models

def incomplete():
    return sorted(
        f"{m.__name__}.{c.__qualname__}"
        for m in (tiktok_models, stock_models, catalog_models, audit_models, shop_models)
        for c in vars(m).values()
        if isinstance(c, type) and issubclass(c, BaseModel) and c.__module__ == m.__name__
        and not c.__pydantic_complete__
    )

class PoolStarts(Exception):
    pass

class Pool:
    def __init__(self, max_workers):
        seen["at_pool"] = incomplete()
        raise PoolStarts

seen = {"before": incomplete()}
export.ThreadPoolExecutor = Pool
try:
    export._each_product(None, {"p1": {}, "p2": {}}, {}, SimpleNamespace(api=lambda: None), None)
except PoolStarts:
    pass
print(json.dumps(seen))
"""


def _run(code: str, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"},
    )
    outcome: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return outcome


def test_threads_first_using_deferred_models_race_unless_they_are_built_first():
    unguarded = _run(_RACE, "2.0", "4", "unguarded")
    # The control: the race happens with the locked pydantic (15 runs of 15 here). Where it
    # does not show within the time (a pydantic with #13438's lock: then build_deferred can
    # go, or a scheduler that never interleaves), the guarded run would prove nothing; the
    # next test still checks the export builds its models before its pool.
    if unguarded["failed_rounds"] != 1:
        pytest.skip(f"the unguarded race did not show here: {unguarded}")
    guarded = _run(_RACE, "0.5", "4", "guarded")
    assert guarded["failed_rounds"] == 0 and not guarded["errors"], guarded
    assert isinstance(guarded["rounds"], int) and guarded["rounds"] > 5


def test_the_quantity_export_builds_its_threads_models_before_its_pool_starts():
    seen = _run(_FAN_OUT)
    assert "tts_sync.tiktok.models.SkuStock" in seen["before"]  # still deferred at import
    assert seen["at_pool"] == []
