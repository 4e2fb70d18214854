"""Watches the stack's children and acts within a second when one dies.

- A function worker that died while idle is respawned (its init runs at once, not on the next
  request's clock); one that died mid-invocation is that invocation's to report and repair.
- A child registered with `watch` (the TikTok Shop sandbox) is restarted in place.
- moto holds every table, queue and secret: it cannot come back without them, so its death is
  fatal. The supervisor reports it ONCE (`on_fatal`) and stops watching; the owner stops the stack.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tts_local.stack.background import BackgroundLoop
from tts_local.stack.functions import FunctionWorker
from tts_local.stack.moto_process import MotoProcess

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 0.25


class WatchedChild(Protocol):
    """Something besides moto and the workers that the stack keeps alive (the sandbox)."""

    name: str
    kind: str
    restarts: int

    def alive(self) -> bool: ...

    def restart(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass
class SandboxChild:
    """The in-process TikTok Shop sandbox as a supervised child: restarted in place (same port,
    same in-memory shops and orders) when its server thread dies."""

    sandbox: Any
    name: str = "sandbox"
    kind: str = "sandbox"
    restarts: int = 0

    def alive(self) -> bool:
        return bool(self.sandbox.serving)

    def restart(self) -> None:
        self.sandbox.restart_in_place()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "pid": None,  # a thread of the stack's own process
            "url": self.sandbox.url,
            "state": "running" if self.alive() else "dead",
            "restarts": self.restarts,
        }


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def describe_children(
    moto: MotoProcess | None, workers: dict[str, FunctionWorker], watched: list[WatchedChild]
) -> list[dict[str, Any]]:
    code = moto.exit_code() if moto else None
    children: list[dict[str, Any]] = [
        {
            "name": "moto",
            "kind": "moto",
            "pid": moto.pid if moto else None,
            "state": "stopped" if moto is None else "running" if code is None else "dead",
            "restarts": 0,  # never restarted: its state cannot come back
        }
    ]
    children += [
        {
            "name": name,
            "kind": "function",
            "pid": worker.pid,
            "state": worker.state,
            "restarts": worker.restarts,
        }
        for name, worker in workers.items()
    ]
    return children + [child.describe() for child in watched]


class Supervisor(BackgroundLoop):
    def __init__(
        self,
        moto: MotoProcess,
        workers: dict[str, FunctionWorker],
        on_fatal: Callable[[str], None],
        interval: float = CHECK_INTERVAL_SECONDS,
    ) -> None:
        self._moto = moto
        self._workers = workers
        self._on_fatal = on_fatal
        self._interval = interval
        self.watched: list[WatchedChild] = []
        super().__init__("supervisor")

    def start(self) -> None:
        self._thread.start()

    def watch(self, child: WatchedChild) -> None:
        self.watched.append(child)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                fatal = self.check()
            except Exception:  # the watcher must not die of what it watches
                log.warning("supervisor check failed", exc_info=True)
                continue
            if fatal is not None:
                self._on_fatal(fatal)
                return

    def check(self) -> str | None:
        """One round: repairs what it can; returns the fatal problem, if any."""
        code = self._moto.exit_code()
        if code is not None:
            return (
                f"the moto server (pid {self._moto.pid}) died ({describe_exit(code)}); it held "
                "every table, queue and secret, so the local stack cannot go on"
            )
        for worker in list(self._workers.values()):
            if self._stop.is_set():
                return None
            worker.supervise()  # logs the restart, if any
        for child in self.watched:
            if self._stop.is_set() or child.alive():
                continue
            child.restarts += 1
            try:
                child.restart()
            except Exception as exc:
                return f"the {child.name} died and could not be restarted ({exc})"
            log.warning("%s: died; restarted in place", child.name)
        return None
