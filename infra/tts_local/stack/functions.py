"""Parent side of the Lambda workers: spawn, invoke with a deadline, kill and respawn on timeout.

Each function gets its own subprocess, so environment variables and per-container caches (cached
clients, config, secrets) stay as isolated as in separate Lambda containers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tts_local.stack.aws_clients import FAKE_CREDENTIALS

log = logging.getLogger(__name__)

INIT_TIMEOUT_SECONDS = 10.0  # Lambda's init phase limit
_IPC_GRACE_SECONDS = 0.25  # pipe latency; the handler itself sees the exact deadline
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Invocation:
    request_id: str
    ok: bool
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0

    @property
    def error_summary(self) -> str:
        if self.error is None:
            return ""
        return f"{self.error.get('errorType')}: {self.error.get('errorMessage')}"


def lambda_environment(
    spec: FunctionSpec, endpoint_url: str, region: str, overrides: dict[str, str]
) -> dict[str, str]:
    """What a Lambda container's environment would hold, pointed at moto."""
    env = {key: os.environ[key] for key in _PASSED_THROUGH if key in os.environ}
    env.update(FAKE_CREDENTIALS)
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
            "TTS_LOCAL_FUNCTION_ARN": spec.arn,
        }
    )
    env.update(spec.environment)
    env.update(overrides)
    return env


class FunctionWorker:
    """One container for one function; invocations are serialized like a single Lambda instance."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str]) -> None:
        self.spec = spec
        self._environment = environment
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._init_error: dict[str, Any] | None = None
        self._ready = False
        self._function_log = logging.getLogger(f"tts_local.function.{spec.logical_id}")
        self.restarts = 0

    def start(self) -> None:
        cwd = self.spec.code_dir if self.spec.code_dir.is_dir() else Path.cwd()
        self._replies = queue.Queue()
        self._ready = False
        self._init_error = None
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tts_local.stack.worker",
                str(self.spec.code_dir),
                self.spec.handler,
            ],
            cwd=cwd,
            env=self._environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        replies = self._replies
        threading.Thread(
            target=self._read_replies, args=(self._process.stdout, replies), daemon=True
        ).start()
        threading.Thread(target=self._read_logs, args=(self._process.stderr,), daemon=True).start()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def invoke(self, event: Any) -> Invocation:
        request_id = str(uuid.uuid4())
        with self._lock:
            started = time.monotonic()
            outcome = self._invoke_locked(event, request_id)
            duration = (time.monotonic() - started) * 1000
        result = Invocation(
            request_id,
            outcome.get("ok", False),
            outcome.get("result"),
            outcome.get("error"),
            duration,
        )
        if result.ok:
            log.info("%s ok in %.0f ms", self.spec.logical_id, duration)
        else:
            log.warning(
                "%s failed (%s) in %.0f ms", self.spec.logical_id, result.error_summary, duration
            )
        return result

    def _invoke_locked(self, event: Any, request_id: str) -> dict[str, Any]:
        if self._process is None or self._process.poll() is not None:
            self._restart("worker was not running")
        if not self._ready:
            ready = self._next_reply(INIT_TIMEOUT_SECONDS)
            if ready is None:
                self._restart("init did not finish")
                return {
                    "ok": False,
                    "error": {
                        "errorType": "Runtime.InitError",
                        "errorMessage": "init timed out or crashed",
                    },
                }
            self._ready = True
            self._init_error = None if ready.get("ready") else ready.get("error")
        deadline_ms = time.time() * 1000 + self.spec.timeout_seconds * 1000
        message = {
            "id": request_id,
            "event": event,
            "deadline_ms": deadline_ms,
            "request_id": request_id,
        }
        try:
            assert self._process is not None and self._process.stdin is not None
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
        except (OSError, ValueError) as exc:
            self._restart("worker pipe broke")
            return {
                "ok": False,
                "error": {"errorType": "Runtime.ExitError", "errorMessage": str(exc)},
            }
        reply = self._next_reply(self.spec.timeout_seconds + _IPC_GRACE_SECONDS)
        if reply is None:
            exited = self._process.poll() is not None
            self._restart("worker exited" if exited else "invocation timed out")
            if exited:
                return {
                    "ok": False,
                    "error": {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": "worker process exited",
                    },
                }
            return {
                "ok": False,
                "error": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {self.spec.timeout_seconds:.2f} seconds",
                },
            }
        return reply

    def _next_reply(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty:
            return None

    def _restart(self, reason: str) -> None:
        """Kill the container and start a fresh one (its init runs while nobody waits)."""
        log.warning("%s: restarting worker (%s)", self.spec.logical_id, reason)
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None
        self.restarts += 1
        self.start()

    @staticmethod
    def _read_replies(stream: IO[str] | None, replies: queue.Queue[dict[str, Any] | None]) -> None:
        assert stream is not None
        for line in stream:
            try:
                replies.put(json.loads(line))
            except json.JSONDecodeError:
                log.debug("unreadable worker reply: %r", line)
        replies.put(None)  # EOF: the process is gone

    def _read_logs(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self._function_log.info("%s", line.rstrip("\n"))
