"""One Lambda "container": a subprocess that imports one handler and runs invocations.

Protocol: JSON lines. The parent writes {"id", "event", "deadline_ms", "request_id"} to stdin;
the worker answers on the original stdout with {"id", "ok", "result"|"error"}. The handler's own
print()s and logs go to stderr (stdout is re-pointed there), so they cannot corrupt the protocol.
The first line the worker writes is {"ready": true} or {"ready": false, "error": ...} after init.

Run as: python -m tts_local.stack.worker CODE_DIR HANDLER
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any, TextIO


class LambdaContext:
    """The attributes and method real handlers (and Powertools) read from the Lambda context."""

    def __init__(self, request_id: str, deadline_ms: float) -> None:
        name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_name = name
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ["TTS_LOCAL_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{name}")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _load_handler(code_dir: str, handler: str) -> Any:
    # Lambda puts the function's code folder first on sys.path; mimicking that is the point here.
    sys.path.insert(0, code_dir)
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))  # "src/app.handler" works too
    return getattr(module, function_name)


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def _write(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message, default=str) + "\n")
    channel.flush()


def main() -> None:
    code_dir, handler_name = sys.argv[1], sys.argv[2]
    # Ctrl-C in a terminal reaches the whole process group; the stack decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    try:
        handler = _load_handler(code_dir, handler_name)
    except BaseException as exc:
        failure = _error(exc)
        failure["errorType"] = f"Runtime.ImportModuleError: {failure['errorType']}"
        _write(channel, {"ready": False, "error": failure})
        handler = None
    else:
        _write(channel, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        if handler is None:
            _write(channel, {"id": request["id"], "ok": False, "error": failure})
            continue
        context = LambdaContext(request["request_id"], request["deadline_ms"])
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            traceback.print_exc()
            _write(channel, {"id": request["id"], "ok": False, "error": _error(exc)})
        else:
            _write(channel, {"id": request["id"], "ok": True, "result": result})


if __name__ == "__main__":
    main()
