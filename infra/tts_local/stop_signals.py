"""SIGINT/SIGTERM for `tts-sync local`: handlers that are safe to re-enter.

A Python signal handler runs in the main thread between two bytecodes, possibly while the main
thread is inside a call that holds a lock. A handler that took the same lock (the old one called
`threading.Event.set()`) deadlocked when a second signal arrived during the first one's `set()`:
`uv run` forwards the signal it receives, so a group kill delivers two. These handlers only
assign attributes; the main thread is woken through `signal.set_wakeup_fd` (the C-level handler
writes a byte to a pipe), and other threads wake it through the same pipe.

A second signal within `DUPLICATE_WINDOW_SECONDS` of the first is the same request arriving
twice (the kernel's and the one uv forwards); a later one means "stop at once".
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable
from types import FrameType

DUPLICATE_WINDOW_SECONDS = 0.5
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    def __init__(self, at_once: Callable[[int], None]) -> None:
        self.requested: int | None = None  # the first stop signal's number
        self._first_at = 0.0
        self._at_once = at_once
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._previous: dict[int, object] = {}
        self._previous_wakeup = -1

    def install(self) -> None:
        """From the main thread only (as any signal handler)."""
        self._previous_wakeup = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._previous_wakeup)
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.requested is None:
            self.requested = signum
            self._first_at = now
        elif now - self._first_at > DUPLICATE_WINDOW_SECONDS:
            self._at_once(signum)

    def wake(self) -> None:
        """Wakes `wait` from any thread (a write to a non-blocking pipe takes no lock)."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write, b"\0")

    def wait(self, timeout: float) -> None:
        """Sleeps until a signal, a `wake()` or the timeout."""
        with contextlib.suppress(InterruptedError):
            select.select([self._read], [], [], timeout)
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._read, 512):
                pass


def kill_groups_at_once(pids: list[int], signum: int) -> None:
    """For a second stop signal: SIGKILL every child's process group (each runs in its own
    session), say so in one line, and exit. Only async-signal-safe calls."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    name = signal.Signals(signum).name
    os.write(2, f"tts-sync local: second {name}: stopped at once, children killed\n".encode())
    os._exit(128 + signum)
