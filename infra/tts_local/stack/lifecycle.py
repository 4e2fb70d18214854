"""Starting and stopping the function workers: what READY promises and what a stop guarantees.

Start: every worker finishes its init (imports, module-level setup) before the stack reports
READY, so the first request after READY does not pay a cold start on a loaded machine. Inits run
at most `parallelism` at a time (a laptop's cores, not one per function: on 2 cores, spawning
every worker at once made each init slower than Lambda's 10 s limit). An init that hangs past
the limit is retried once with a fresh container, then the start fails with the function's name.

Stop: no new invocations, the ones in flight finish (bounded by `drain_seconds`), then every
container is asked to stop at once and killed if it has not gone after `kill_after` seconds.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence

from tts_local.stack.functions import INIT_TIMEOUT_SECONDS, FunctionWorker

log = logging.getLogger(__name__)

DRAIN_SECONDS = 5.0  # in-flight invocations get this long to finish once a stop begins
KILL_AFTER_SECONDS = 1.0  # then containers get SIGTERM, and SIGKILL after this
_POLL_SECONDS = 0.05


class StartupError(RuntimeError):
    """The stack cannot honestly report READY (an init hangs); the message says which."""


class StartCancelled(RuntimeError):
    """A stop was requested while the stack was starting."""


def default_parallelism() -> int:
    return max(1, os.cpu_count() or 1)


def initialise_workers(
    workers: Sequence[FunctionWorker],
    *,
    parallelism: int,
    init_limit: float = INIT_TIMEOUT_SECONDS,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Starts every worker and returns once each has finished its init."""
    waiting = list(workers)
    running: list[FunctionWorker] = []
    retried: set[str] = set()
    while waiting or running:
        if should_stop():
            raise StartCancelled("stop requested during start-up")
        while waiting and len(running) < max(1, parallelism):
            worker = waiting.pop(0)
            worker.start()
            running.append(worker)
        for worker in list(running):
            if worker.init_finished():
                running.remove(worker)
                _report_init(worker)
            elif worker.init_seconds() > init_limit:
                name = worker.spec.logical_id
                if name in retried:
                    raise StartupError(
                        f"{name} did not finish its init within {init_limit:g} s, twice "
                        "(a module-level call that hangs, or a machine too loaded to start it)"
                    )
                retried.add(name)
                log.warning("%s: init took over %g s; retrying once", name, init_limit)
                worker.respawn("init did not finish")
        time.sleep(_POLL_SECONDS)


def _report_init(worker: FunctionWorker) -> None:
    error = worker.init_error
    if worker.state == "dead":
        # The interpreter itself went (os._exit, a crash in a C extension): the supervisor
        # respawns it, with a growing delay if it keeps dying.
        log.error("%s: its worker exited during init", worker.spec.logical_id)
    elif error is not None:
        # Lambda answers each invocation with this error; so does the worker. Say it once now.
        log.error(
            "%s failed its init (%s: %s); its invocations will fail",
            worker.spec.logical_id,
            error.get("errorType"),
            error.get("errorMessage"),
        )
    else:
        log.info("%s initialised in %.1f s", worker.spec.logical_id, worker.init_seconds())


def drain_and_stop(
    workers: Sequence[FunctionWorker],
    *,
    drain_seconds: float = DRAIN_SECONDS,
    kill_after: float = KILL_AFTER_SECONDS,
    answers_sent: Callable[[float], bool] = lambda timeout: True,
) -> None:
    """`answers_sent(timeout)` waits for the replies of finished invocations to be written
    (the HTTP API's), within what is left of the drain time."""
    for worker in workers:
        worker.close()
    deadline = time.monotonic() + drain_seconds
    busy = [worker for worker in workers if worker.state == "busy"]
    if busy:
        log.info("waiting up to %g s for %d invocation(s) in flight", drain_seconds, len(busy))
    for worker in busy:
        if not worker.wait_idle(deadline - time.monotonic()):
            log.warning("%s: invocation still running at stop; killing it", worker.spec.logical_id)
    answers_sent(deadline - time.monotonic())
    for worker in workers:
        worker.terminate()  # all at once: each may still be in its init phase
    deadline = time.monotonic() + kill_after
    for worker in workers:
        worker.stop(timeout=deadline - time.monotonic())
