"""The stack's child processes: moto's start-up has a deadline, and stopping or restarting a
child closes the parent's ends of its pipes (no file descriptors pile up over restarts)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tts_local.stack.functions import FunctionSpec, FunctionWorker, lambda_environment
from tts_local.stack.moto_process import MotoProcess

WORKERS_DIR = Path(__file__).parents[2] / "fixtures" / "local_stack" / "functions" / "workers"


def pipes_closed(process: subprocess.Popen[Any]) -> bool:
    return all(
        stream is None or stream.closed
        for stream in (process.stdin, process.stdout, process.stderr)
    )


def test_moto_child_that_never_reports_its_port_fails_clearly() -> None:
    moto = MotoProcess(
        command=[sys.executable, "-c", "import time; time.sleep(120)"], start_timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"did not report its port within 0\.5 s"):
        moto.start()
    assert time.monotonic() - started < 30  # generous: the point is "not forever"
    moto.stop()  # nothing left to stop


def test_moto_child_that_exits_early_fails_clearly() -> None:
    moto = MotoProcess(command=[sys.executable, "-c", "print('boom')"], start_timeout=30)
    with pytest.raises(RuntimeError, match=r"did not start.*boom"):
        moto.start()


def test_moto_stop_closes_the_pipes() -> None:
    child = "import sys; print('PORT 1', flush=True); sys.stdin.read()"
    moto = MotoProcess(command=[sys.executable, "-c", child])
    assert moto.start() == "http://127.0.0.1:1"
    process = moto._process
    assert process is not None and not pipes_closed(process)
    moto.stop()
    assert process.returncode is not None
    assert pipes_closed(process)


def slow_worker() -> FunctionWorker:
    spec = FunctionSpec(
        logical_id="SlowFunction",
        name="fixture-SlowFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:fixture-SlowFunction",
        code_dir=WORKERS_DIR,
        handler="app.slow",
        timeout_seconds=1,
        memory_mb=128,
    )
    return FunctionWorker(spec, lambda_environment(spec, "http://127.0.0.1:9", "us-east-1", {}))


def test_worker_stop_and_restart_close_the_pipes() -> None:
    worker = slow_worker()
    worker.start()
    try:
        assert worker.invoke({"sleep": 0}).ok
        first = worker._process
        assert first is not None and not pipes_closed(first)

        stuck = worker.invoke({"sleep": 30})  # times out: the container is replaced
        assert stuck.error is not None and stuck.error["errorType"] == "Sandbox.Timedout"
        assert worker.restarts == 1
        assert pipes_closed(first)

        assert worker.invoke({"sleep": 0}).ok
        second = worker._process
        assert second is not None and second is not first
    finally:
        worker.stop()
    assert pipes_closed(second)
