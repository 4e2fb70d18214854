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
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tts_local.stack.aws_clients import FAKE_CREDENTIALS
from tts_local.stack.pipes import close_pipes

log = logging.getLogger(__name__)

INIT_TIMEOUT_SECONDS = 10.0  # Lambda's init phase limit
# A container that keeps dying soon after its start is respawned after 1, 2, 4 ... 30 s, not in
# a hot loop (each respawn logs a line); one that lived a while is respawned at once.
_STABLE_SECONDS = 5.0
_MAX_BACKOFF_SECONDS = 30.0
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
    spec: FunctionSpec,
    endpoint_url: str,
    region: str,
    overrides: dict[str, str],
    lambda_endpoint_url: str | None = None,
) -> dict[str, str]:
    """What a Lambda container's environment would hold, pointed at moto; Lambda's own API
    (a function invoking another) at `lambda_endpoint_url`, the stack's API port."""
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
    if lambda_endpoint_url:  # botocore's service-specific endpoint beats AWS_ENDPOINT_URL
        env["AWS_ENDPOINT_URL_LAMBDA"] = lambda_endpoint_url
    env.update(spec.environment)
    env.update(overrides)
    return env


class FunctionWorker:
    """One container for one function; invocations are serialized like a single Lambda instance.

    The container runs in its own session (process group): a terminal's Ctrl-C reaches only the
    stack, which decides when and in which order its children stop.
    """

    def __init__(self, spec: FunctionSpec, environment: dict[str, str]) -> None:
        self.spec = spec
        self._environment = environment
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._readers: list[threading.Thread] = []
        self._ready = False
        self._initialised = threading.Event()
        self._init_error: dict[str, Any] | None = None
        self._spawned_at = 0.0
        self._dead_since: float | None = None
        self._backoff = 0.0
        self._function_log = logging.getLogger(f"tts_local.function.{spec.logical_id}")
        self.restarts = 0
        self._closed = False

    def start(self) -> None:
        cwd = self.spec.code_dir if self.spec.code_dir.is_dir() else Path.cwd()
        self._replies = queue.Queue()
        self._ready = False
        self._initialised = threading.Event()
        self._init_error = None
        self._spawned_at = time.monotonic()
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
            start_new_session=True,
        )
        replies, initialised = self._replies, self._initialised
        self._readers = [
            threading.Thread(
                target=self._read_replies,
                args=(self._process.stdout, replies, initialised),
                daemon=True,
            ),
            threading.Thread(target=self._read_logs, args=(self._process.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    # ------------------------------------------------------------ what the supervisor reads

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    @property
    def state(self) -> str:
        """stopped | dead | initialising | busy | ready (an init that failed is "ready":
        it answers every invocation at once with Runtime.ImportModuleError, as Lambda does)."""
        process = self._process
        if self._closed or process is None:
            return "stopped"
        if process.poll() is not None:
            return "dead"
        if not self._initialised.is_set():
            return "initialising"
        return "busy" if self._lock.locked() else "ready"

    @property
    def init_error(self) -> dict[str, Any] | None:
        return self._init_error

    def init_finished(self) -> bool:
        """True once the container reported the end of its init (or died trying)."""
        return self._initialised.is_set()

    def init_seconds(self) -> float:
        """How long the current container has been starting (or took to start)."""
        return time.monotonic() - self._spawned_at

    def respawn(self, reason: str) -> None:
        """Replaces the container now (the stack's start-up retries an init that hangs)."""
        with self._lock:
            self._restart(reason)

    def supervise(self) -> str | None:
        """Replaces a container that died while idle; returns why, or None when nothing was
        done. A death during an invocation is that invocation's to report and repair."""
        process = self._process
        if self._closed or process is None or process.poll() is None:
            return None
        now = time.monotonic()
        if self._dead_since is None:
            self._dead_since = now
            short_lived = now - self._spawned_at < _STABLE_SECONDS
            self._backoff = (
                min(max(self._backoff * 2, 1.0), _MAX_BACKOFF_SECONDS) if short_lived else 0.0
            )
        if now - self._dead_since < self._backoff:
            return None
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._closed or self._process is not process:
                return None
            reason = f"worker pid {process.pid} exited with code {process.returncode}"
            self._restart(reason)
            self._dead_since = None
            return reason
        finally:
            self._lock.release()

    # ------------------------------------------------------------ stopping

    def close(self) -> None:
        """No new invocations (they fail with Runtime.Stopped); the current one finishes."""
        self._closed = True

    def wait_idle(self, timeout: float) -> bool:
        """Waits for the invocation in flight, if any; True when none is left."""
        if not self._lock.acquire(timeout=max(0.0, timeout)):
            return False
        self._lock.release()
        return True

    def terminate(self) -> None:
        """Asks the container to go away without waiting (so many can stop in parallel)."""
        self._closed = True
        process = self._process
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)

    def stop(self, timeout: float = 2.0) -> None:
        self._closed = True
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        close_pipes(process, self._readers)

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
        if self._closed:
            return _failure("Runtime.Stopped", "the local stack is shutting down")
        if self._process is None or self._process.poll() is not None:
            self._restart("worker was not running")
        if not self._ready:
            # The init phase (imports, module-level setup) has its own limit, as in Lambda,
            # counted from the container's spawn (it may have begun before this invocation).
            remaining = INIT_TIMEOUT_SECONDS - (time.monotonic() - self._spawned_at)
            if not self._initialised.wait(max(0.0, remaining)) or self._exited():
                self._restart("init did not finish")
                return _failure("Runtime.InitError", "init timed out or crashed")
            self._ready = True
        process = self._process
        if process is None or process.stdin is None:  # shutdown began while we waited
            return _failure("Runtime.Stopped", "the local stack is shutting down")
        deadline_ms = time.time() * 1000 + self.spec.timeout_seconds * 1000
        message = {
            "id": request_id,
            "event": event,
            "deadline_ms": deadline_ms,
            "request_id": request_id,
        }
        try:
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
        except (OSError, ValueError) as exc:
            self._restart("worker pipe broke")
            return _failure("Runtime.ExitError", str(exc))
        reply = self._next_reply(self.spec.timeout_seconds + _IPC_GRACE_SECONDS)
        if reply is not None:
            return reply
        if process.poll() is not None:
            self._restart("worker exited")
            return _failure("Runtime.ExitError", "worker process exited")
        self._restart("invocation timed out")
        timeout = self.spec.timeout_seconds
        return _failure("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")

    def _exited(self) -> bool:
        process = self._process
        return process is None or process.poll() is not None

    def _next_reply(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty:
            return None

    def _restart(self, reason: str) -> None:
        """Kill the container and start a fresh one (its init runs while nobody waits)."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                _signal_group(process, signal.SIGKILL)
            process.wait()
            close_pipes(process, self._readers)  # else every restart leaks three pipes
        if self._closed:
            return  # the stack is shutting down: no new container
        log.warning("%s: restarting worker (%s)", self.spec.logical_id, reason)
        self.restarts += 1
        self.start()

    def _read_replies(
        self,
        stream: IO[str] | None,
        replies: queue.Queue[dict[str, Any] | None],
        initialised: threading.Event,
    ) -> None:
        assert stream is not None
        for line in stream:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                log.debug("unreadable worker reply: %r", line)
                continue
            if "ready" in message and not initialised.is_set():
                if not message["ready"]:
                    self._init_error = message.get("error")
                initialised.set()
                continue
            replies.put(message)
        initialised.set()  # EOF during init: the container died (the invoke path sees it)
        replies.put(None)  # EOF: the process is gone

    def _read_logs(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self._function_log.info("%s", line.rstrip("\n"))


def _signal_group(process: subprocess.Popen[str], signum: signal.Signals) -> None:
    """Signals the container's process group (its own session), so anything the handler
    spawned goes too; falls back to the process alone."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)


def _failure(error_type: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"errorType": error_type, "errorMessage": message}}
