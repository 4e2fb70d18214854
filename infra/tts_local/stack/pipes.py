"""Closing the parent's ends of a child process's pipes (moto, the Lambda workers)."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


def close_pipes(process: subprocess.Popen[Any], readers: Sequence[threading.Thread] = ()) -> None:
    """Close the parent's ends of a child's pipes once it has exited (else each restart leaks
    file descriptors until garbage collection). Threads still reading a pipe are given a moment
    to see its EOF first: closing a stream another thread is reading blocks on its lock."""
    if process.stdin is not None:
        # Unflushed data and a dead reader: the pipe is broken, which is fine now.
        with contextlib.suppress(OSError):
            process.stdin.close()
    for reader in readers:
        reader.join(timeout=2)
    stuck = any(reader.is_alive() for reader in readers)
    for stream in (process.stdout, process.stderr):
        if stream is not None and not stuck:
            stream.close()
    if stuck:  # a grandchild holds the pipe open; leave the streams to their readers
        log.warning("pipe readers of pid %s still running; their streams stay open", process.pid)
