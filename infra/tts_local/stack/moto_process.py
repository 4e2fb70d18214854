"""moto's ThreadedMotoServer in a child process.

moto keeps its state in module globals. In its own process each stack gets fresh, private state
(two stacks in one test session cannot collide on names, and the session's own moto fixture is
left alone), and moto's request handling does not compete with the HTTP API for the parent's GIL.

Child protocol: prints "PORT <n>" once listening; exits when stdin closes or on SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 30.0


class MotoProcess:
    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""

    def start(self) -> str:
        self._process = subprocess.Popen(
            # -c, not -m: the package __init__ imports this module, and runpy warns about that.
            [sys.executable, "-c", "from tts_local.stack.moto_process import main; main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # the child prints it as soon as it listens
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"moto server did not start (said {line!r})")
        self.endpoint_url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self.endpoint_url

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    # The parent stops us (stdin EOF or SIGTERM); a terminal's Ctrl-C is the parent's business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    from moto.server import ThreadedMotoServer

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
