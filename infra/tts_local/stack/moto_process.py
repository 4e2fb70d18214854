"""moto's ThreadedMotoServer in a child process.

moto keeps its state in module globals. In its own process each stack gets fresh, private state
(two stacks in one test session cannot collide on names, and the session's own moto fixture is
left alone), and moto's request handling does not compete with the HTTP API for the parent's GIL.

Child protocol: prints "PORT <n>" once listening; exits when stdin closes or on SIGTERM. It runs
in its own session, so a terminal's Ctrl-C reaches only the stack, which stops moto last.
moto holds every table, queue and secret: a moto that dies cannot be restarted without losing
them, so the stack's supervisor stops the stack instead (see `exit_code`).
"""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence

from tts_local.stack.pipes import close_pipes

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 30.0  # a cold import of moto takes a few seconds; a hang takes forever
_MOTO_CHILD = [
    sys.executable,
    # -c, not -m: the package __init__ imports this module, and runpy warns about that.
    "-c",
    "from tts_local.stack.moto_process import main; main()",
]


class MotoProcess:
    def __init__(
        self,
        *,
        start_timeout: float = START_TIMEOUT_SECONDS,
        command: Sequence[str] | None = None,  # tests stand in a child that misbehaves
    ) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._start_timeout = start_timeout
        self._command = list(command or _MOTO_CHILD)
        self._port_reader: threading.Thread | None = None
        self.endpoint_url = ""

    def start(self) -> str:
        self._process = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        lines: queue.Queue[str] = queue.Queue(maxsize=1)
        stdout = self._process.stdout
        assert stdout is not None
        # readline() alone would block forever on a child that hangs before printing.
        self._port_reader = threading.Thread(
            target=lambda: lines.put(stdout.readline()), name="moto-port", daemon=True
        )
        self._port_reader.start()
        try:
            line = lines.get(timeout=self._start_timeout)
        except queue.Empty:
            self.stop()
            raise RuntimeError(
                f"moto server did not report its port within {self._start_timeout:g} s "
                "(the child hangs); stopped it"
            ) from None
        if not line.startswith("PORT "):
            code = self._process.poll()
            self.stop()
            raise RuntimeError(f"moto server did not start (said {line!r}, exit code {code})")
        self.endpoint_url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self.endpoint_url

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    def exit_code(self) -> int | None:
        """None while moto runs (or was never started); its exit code once it died."""
        process = self._process
        return None if process is None else process.poll()

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader, self._port_reader = self._port_reader, None
        close_pipes(process, [reader] if reader is not None else [])


def main() -> None:
    # The parent stops us (stdin EOF or SIGTERM); a terminal's Ctrl-C is the parent's business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    from moto.server import ThreadedMotoServer

    from tts_local.stack.moto_atomic import serialize_dynamodb_writes

    serialize_dynamodb_writes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _, port = server.get_host_and_port()
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()  # blocks until the parent goes away
    finally:
        server.stop()


if __name__ == "__main__":
    main()
