"""The local stack never hangs and never lies: a dead child is noticed within two seconds and
repaired (a worker, the sandbox) or ends the stack with one message (moto); READY means every
worker finished its init; a stop lets in-flight work finish and always ends, whatever signals
arrive and however often. Every wait is a poll with a deadline, never a fixed sleep."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tts_local.sandbox import Sandbox
from tts_local.stack.functions import FunctionSpec, FunctionWorker, lambda_environment
from tts_local.stack.lifecycle import StartupError, initialise_workers
from tts_local.stack.moto_process import MotoProcess
from tts_local.stack.supervisor import SandboxChild, Supervisor
from tts_local.stop_signals import DUPLICATE_WINDOW_SECONDS, StopSignals

FIXTURES = Path(__file__).parents[2] / "fixtures" / "local_stack"
TEMPLATE = FIXTURES / "lifecycle_template.yaml"
CLI = [sys.executable, "-m", "tts_local.cli"]
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last value {value!r})")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0) until its parent reaps it; an exited stack's children are
    # re-parented and reaped by init, so check the state too.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return True


@dataclass
class RunningCli:
    process: subprocess.Popen[str]
    stderr_path: Path
    ready: dict[str, Any] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return str(self.ready["api_url"])

    def processes(self) -> list[dict[str, Any]]:
        reply = httpx.get(self.api_url + "/_local/processes", timeout=5).json()
        return list(reply["processes"])

    def child(self, name: str) -> dict[str, Any]:
        return next(p for p in self.processes() if p["name"] == name)

    def child_pids(self) -> list[int]:
        return [p["pid"] for p in self.processes() if p["pid"] is not None]

    def ended_within(self, seconds: float) -> int:
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"tts-sync local still running after {seconds} s") from None

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()


def start_cli(tmp_path: Path, *, wait_ready: bool = True) -> RunningCli:
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [*CLI, "local", "--port", "0", "--template", str(TEMPLATE)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,  # its own group: the tests signal the group as a terminal does
        )
    running = RunningCli(process, stderr_path)
    if wait_ready:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], 90)
        assert readable, "no READY line within 90 s"
        line = process.stdout.readline()
        assert line.startswith("READY "), (line, running.stderr)
        running.ready = json.loads(line.removeprefix("READY "))
    return running


@contextlib.contextmanager
def cli(tmp_path: Path, *, wait_ready: bool = True) -> Iterator[RunningCli]:
    running = start_cli(tmp_path, wait_ready=wait_ready)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.process.pid, signal.SIGKILL)
            running.process.wait()


@pytest.fixture(scope="module")
def shared_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCli]:
    with cli(tmp_path_factory.mktemp("shared")) as running:
        yield running


# ------------------------------------------------------------------------------------ READY


def test_ready_means_every_worker_finished_its_init(shared_cli: RunningCli) -> None:
    children = shared_cli.processes()
    functions = [child for child in children if child["kind"] == "function"]
    assert {child["name"] for child in functions} == {"EchoFunction", "SlowHttpFunction"}
    assert all(child["state"] == "ready" for child in functions), children
    assert [child["state"] for child in children if child["kind"] == "moto"] == ["running"]
    assert [child["state"] for child in children if child["kind"] == "sandbox"] == ["running"]
    # Each child leads its own session: a terminal's Ctrl-C reaches only the stack.
    pids = [child["pid"] for child in children if child["pid"] is not None]
    assert [os.getsid(pid) for pid in pids] == pids

    started = time.monotonic()
    reply = httpx.get(shared_cli.api_url + "/plain", timeout=10)
    assert reply.status_code == 200
    assert time.monotonic() - started < 3  # TikTok's budget: no cold start after READY


def test_init_that_hangs_fails_the_start_naming_the_function() -> None:
    spec = FunctionSpec(
        logical_id="HangFunction",
        name="fixture-HangFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:fixture-HangFunction",
        code_dir=FIXTURES / "functions" / "hang",
        handler="app.handler",
        timeout_seconds=1,
        memory_mb=128,
    )
    worker = FunctionWorker(spec, lambda_environment(spec, "http://127.0.0.1:9", "us-east-1", {}))
    started = time.monotonic()
    try:
        with pytest.raises(
            StartupError, match=r"HangFunction did not finish its init within 0.5 s"
        ):
            initialise_workers([worker], parallelism=1, init_limit=0.5)
    finally:
        worker.stop()
    assert time.monotonic() - started < 10
    assert worker.restarts == 1  # retried once with a fresh container, then gave up


def test_worker_that_keeps_dying_is_respawned_with_a_growing_delay() -> None:
    spec = FunctionSpec(
        logical_id="ExitsFunction",
        name="fixture-ExitsFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:fixture-ExitsFunction",
        code_dir=FIXTURES / "functions" / "exits",
        handler="app.handler",
        timeout_seconds=1,
        memory_mb=128,
    )
    worker = FunctionWorker(spec, lambda_environment(spec, "http://127.0.0.1:9", "us-east-1", {}))
    worker.start()
    try:
        eventually(lambda: worker.state == "dead", 10, "the first container died")
        started = time.monotonic()
        while time.monotonic() - started < 4:  # what the supervisor does, 4 s of it
            worker.supervise()
            time.sleep(0.05)
        # Respawned after 1 s, then 2 s (then 4 s): not 80 times in a hot loop.
        assert 1 <= worker.restarts <= 3
    finally:
        worker.stop()


class FakeWorker:
    """What initialise_workers reads of a worker; its init ends when the test says so."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.spec = type("Spec", (), {"logical_id": name})()
        self.init_error = None
        self.state = "ready"
        self.started = False
        self.finished = False
        self._log = log

    def start(self) -> None:
        self.started = True
        self._log.append(f"start {self.spec.logical_id}")

    def init_finished(self) -> bool:
        return self.finished

    def init_seconds(self) -> float:
        return 0.0

    def respawn(self, reason: str) -> None:  # pragma: no cover - never slow here
        raise AssertionError(reason)


def test_inits_run_at_most_parallelism_at_a_time() -> None:
    log: list[str] = []
    workers = [FakeWorker(f"F{i}", log) for i in range(4)]
    running = threading.Thread(
        target=initialise_workers, args=(workers,), kwargs={"parallelism": 2}, daemon=True
    )
    running.start()
    eventually(lambda: workers[1].started, 5, "two inits under way")
    assert not workers[2].started  # the third waits for a free slot
    workers[0].finished = True
    eventually(lambda: workers[2].started, 5, "third init after the first finished")
    assert not workers[3].started
    for worker in workers:
        worker.finished = True
    running.join(timeout=5)
    assert not running.is_alive()
    assert log == ["start F0", "start F1", "start F2", "start F3"]


# ------------------------------------------------------------------------------ dead children


def test_killed_worker_is_replaced_within_two_seconds(shared_cli: RunningCli) -> None:
    before = shared_cli.child("EchoFunction")
    os.kill(before["pid"], signal.SIGKILL)
    after = eventually(
        lambda: (c := shared_cli.child("EchoFunction"))["pid"] != before["pid"] and c,
        2.0,
        "a new EchoFunction worker",
    )
    assert after["restarts"] == before["restarts"] + 1
    eventually(lambda: shared_cli.child("EchoFunction")["state"] == "ready", 15, "its init")
    assert httpx.get(shared_cli.api_url + "/plain", timeout=10).status_code == 200
    assert shared_cli.process.poll() is None  # the stack itself carried on
    assert "Traceback" not in shared_cli.stderr


def test_worker_killed_mid_invocation_fails_that_invocation_at_once(
    shared_cli: RunningCli,
) -> None:
    replies: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: replies.append(
            httpx.get(shared_cli.api_url + "/slow", params={"seconds": "30"}, timeout=40)
        )
    )
    request.start()
    busy = eventually(
        lambda: (c := shared_cli.child("SlowHttpFunction"))["state"] == "busy" and c, 10, "busy"
    )
    killed_at = time.monotonic()
    os.kill(busy["pid"], signal.SIGKILL)
    request.join(timeout=10)
    assert time.monotonic() - killed_at < 2  # not the function's 60 s Timeout
    assert [reply.status_code for reply in replies] == [500]
    eventually(
        lambda: (
            (c := shared_cli.child("SlowHttpFunction"))["pid"] != busy["pid"]
            and c["state"] == "ready"
        ),
        15,
        "a fresh SlowHttpFunction worker",
    )


def test_killed_moto_ends_the_stack_with_one_clear_message(tmp_path: Path) -> None:
    with cli(tmp_path) as running:
        children = running.child_pids()
        moto = running.child("moto")
        os.kill(moto["pid"], signal.SIGKILL)
        # Noticed within a second or two, then the bounded stop (nothing in flight).
        assert running.ended_within(8) == 1
        stderr = running.stderr
    assert stderr.count("tts-sync local: error:") == 1, stderr
    assert f"moto server (pid {moto['pid']}) died (killed by SIGKILL)" in stderr
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) <= 5, stderr  # one message, not a flood
    eventually(lambda: not any(alive(pid) for pid in children), 5, "children gone")


def test_children_exit_when_the_stack_is_killed_outright(tmp_path: Path) -> None:
    with cli(tmp_path) as running:
        children = running.child_pids()
        os.kill(running.process.pid, signal.SIGKILL)  # no handler runs: only their stdin closes
        running.ended_within(5)
    eventually(lambda: not any(alive(pid) for pid in children), 10, "orphaned children gone")


def test_sandbox_that_died_is_restarted_in_place_with_its_state() -> None:
    sandbox = Sandbox("key", "secret", port=0).start()
    moto = MotoProcess()  # never started: "running" for the supervisor's purpose
    fatal: list[str] = []
    supervisor = Supervisor(moto, {}, fatal.append, interval=0.1)
    child = SandboxChild(sandbox)
    supervisor.watch(child)
    supervisor.start()
    try:
        sandbox.seed_demo_data()
        url = sandbox.url
        shops = httpx.get(url + "/_admin/state", timeout=5).json()["shops"]
        assert shops
        assert sandbox._server is not None
        sandbox._server.shutdown()  # its server thread ends, as when it crashes
        eventually(lambda: child.restarts == 1 and sandbox.serving, 2.0, "sandbox restarted")
        assert sandbox.url == url  # same port: the functions' TTS_API_BASE_URL still holds
        assert httpx.get(url + "/_admin/state", timeout=5).json()["shops"] == shops
        assert child.describe()["state"] == "running"
        assert fatal == []
    finally:
        supervisor.stop()
        supervisor.join(2)
        sandbox.stop()


# ------------------------------------------------------------------------------------ stopping


def test_sigterm_to_the_process_group_ends_within_10_s(tmp_path: Path) -> None:
    with cli(tmp_path) as running:
        children = running.child_pids()
        os.killpg(running.process.pid, signal.SIGTERM)  # what a supervisor or `kill -- -PGID` does
        assert running.ended_within(10) == 0, running.stderr
    assert "Traceback" not in running.stderr
    eventually(lambda: not any(alive(pid) for pid in children), 5, "children gone")


def test_two_sigterms_in_a_row_end_within_10_s(tmp_path: Path) -> None:
    with cli(tmp_path) as running:
        children = running.child_pids()
        running.process.send_signal(signal.SIGTERM)
        running.process.send_signal(signal.SIGTERM)  # the copy `uv run` forwards
        assert running.ended_within(10) == 0, running.stderr
    assert "Traceback" not in running.stderr
    eventually(lambda: not any(alive(pid) for pid in children), 5, "children gone")


def test_in_flight_request_finishes_during_a_stop(tmp_path: Path) -> None:
    with cli(tmp_path) as running:
        replies: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: replies.append(
                httpx.get(running.api_url + "/slow", params={"seconds": "2"}, timeout=20)
            )
        )
        request.start()
        eventually(lambda: running.child("SlowHttpFunction")["state"] == "busy", 10, "in flight")
        running.process.send_signal(signal.SIGINT)
        request.join(timeout=15)
        assert running.ended_within(10) == 0, running.stderr
    assert [reply.status_code for reply in replies] == [200]
    assert replies[0].json() == {"slept": True}


def test_a_later_second_signal_stops_at_once(tmp_path: Path) -> None:
    with cli(tmp_path) as running:
        children = running.child_pids()

        def slow_request() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the stack dies under it: expected
                httpx.get(running.api_url + "/slow", params={"seconds": "30"}, timeout=40)

        threading.Thread(target=slow_request, daemon=True).start()
        eventually(lambda: running.child("SlowHttpFunction")["state"] == "busy", 10, "in flight")
        running.process.send_signal(signal.SIGINT)  # waits for the slow invocation (up to 5 s)
        time.sleep(DUPLICATE_WINDOW_SECONDS + 0.2)  # a human's second Ctrl-C, not a duplicate
        stopped_at = time.monotonic()
        running.process.send_signal(signal.SIGINT)
        assert running.ended_within(10) == 128 + signal.SIGINT
        assert time.monotonic() - stopped_at < 2
    assert "second SIGINT: stopped at once" in running.stderr
    eventually(lambda: not any(alive(pid) for pid in children), 5, "children killed")


def test_signal_during_start_up_ends_without_ready(tmp_path: Path) -> None:
    with cli(tmp_path, wait_ready=False) as running:
        # As soon as the first worker exists, the stack is mid-start.
        eventually(
            lambda: any(
                "tts_local.stack.worker" in Path(f"/proc/{pid}/cmdline").read_text()
                for pid in _children_of(running.process.pid)
            ),
            60,
            "a worker spawned",
        )
        running.process.send_signal(signal.SIGTERM)
        assert running.ended_within(10) == 0, running.stderr
        assert running.process.stdout is not None
        assert "READY" not in running.process.stdout.read()


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


# ------------------------------------------------------------------------- the signal handler


def test_signal_handler_is_safe_against_a_second_signal() -> None:
    at_once: list[int] = []
    signals = StopSignals(at_once.append)
    signals.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # inside the window: the same request twice
        started = time.monotonic()
        signals.wait(5)  # the wakeup fd ends the wait at once
        assert time.monotonic() - started < 1
        assert signals.requested == signal.SIGTERM
        assert at_once == []
        # wake() from another thread ends a wait too (the supervisor uses it).
        threading.Timer(0.1, signals.wake).start()
        started = time.monotonic()
        signals.wait(5)
        assert time.monotonic() - started < 2
        eventually(
            lambda: time.monotonic() - started > DUPLICATE_WINDOW_SECONDS, 2, "window passed"
        )
        os.kill(os.getpid(), signal.SIGINT)
        signals.wait(0.5)
        assert at_once == [signal.SIGINT]
    finally:
        signals.uninstall()
