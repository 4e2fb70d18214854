"""`tts-sync`: developer commands. `tts-sync local` runs the whole system on loopback;
`tts-sync webhook send FILE` delivers a signed webhook to a URL; `tts-sync schemas write|check`
regenerates or checks the committed message schemas; `tts-sync privacy receipt ID` prints a
deletion request's receipt (from the PrivacyRequestsTable the environment points at);
`tts-sync mapping set|show|delete|catalog-sync` manages a shop's warehouse mapping and catalog
map; `tts-sync ops redrive|replay|replay-quarantine` works on a deployed or the local stack.

The READY line `tts-sync local` prints is an interface: scripts parse it, so keep it stable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("tts_local.cli")

REAL_API_BASE_URL = "https://open-api.tiktokglobalshop.com"
REAL_AUTH_BASE_URL = "https://auth.tiktok-shops.com"
LOCAL_APP_KEY = "local-app-key"
LOCAL_APP_SECRET = "local-app-secret"  # noqa: S105 - a fixed local default, not a real secret  # nosec B105
CREDENTIALS_SECRET_ID = "AppCredentialsSecret"  # noqa: S105 - a logical id  # nosec B105


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be an integer, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {port}")
    return port


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"timeout must be a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"timeout must be greater than 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number greater than 0, got {value}")
    return value


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def _http_url(text: str) -> str:
    parsed = urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise argparse.ArgumentTypeError(f"expected an http(s) URL such as {REAL_API_BASE_URL}")
    return text.rstrip("/")


def _override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(
            f"parameter override must look like Key=Value, got {text!r}"
        )
    return key, value


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2026-12-01T10:00:00Z, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _event_type(text: str) -> int:
    from tts_sync.events import BY_NAME

    if text.isdigit():
        return int(text)
    spec = BY_NAME.get(text.upper())
    if spec is None:
        names = ", ".join(sorted(BY_NAME))
        raise argparse.ArgumentTypeError(f"unknown webhook type {text!r}; known: {names}")
    return spec.number


def _stack_options(command: argparse.ArgumentParser) -> None:
    where = command.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", metavar="NAME", help="a deployed CloudFormation stack")
    where.add_argument(
        "--local",
        nargs="?",
        const="http://127.0.0.1:3000",
        type=_http_url,
        metavar="API_URL",
        help="the local stack at API_URL (default http://127.0.0.1:3000)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tts-sync", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = commands.add_parser("local", help="run the whole stack on loopback (moto, no Docker)")
    local.add_argument("--port", type=_port, default=3000, help="HTTP API port (0 = any free port)")
    local.add_argument("--template", type=_existing_file, default="template.yaml")
    local.add_argument(
        "--parameter-overrides",
        type=_override,
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, e.g. Stage=dev",
    )
    local.add_argument(
        "--api-base-url",
        type=_http_url,
        help="TikTok Shop API to call instead of the built-in sandbox, e.g. " + REAL_API_BASE_URL,
    )
    local.add_argument(
        "--auth-base-url",
        type=_http_url,
        help="TikTok Shop auth host to use instead of the sandbox, e.g. " + REAL_AUTH_BASE_URL,
    )
    local.add_argument("--demo", action="store_true", help="send a demo webhook burst after start")
    local.add_argument("--verbose", action="store_true", help="stream function logs to stderr")

    webhook = commands.add_parser("webhook", help="webhook tools")
    webhook_commands = webhook.add_subparsers(
        dest="webhook_command", required=True, metavar="ACTION"
    )
    send = webhook_commands.add_parser("send", help="sign FILE and POST it to --url")
    send.add_argument("file", type=Path, metavar="FILE")
    send.add_argument("--url", required=True)
    send.add_argument("--timeout", type=_positive_seconds, default=5.0)
    send.add_argument(
        "--keep-timestamp",
        action="store_true",
        help="send the file's bytes exactly (default: set the body's timestamp to now)",
    )

    ops = commands.add_parser("ops", help="operator commands against a deployed or local stack")
    ops_commands = ops.add_subparsers(dest="ops_command", required=True, metavar="ACTION")
    redrive = ops_commands.add_parser(
        "redrive",
        help="dead-letter queues back to their source queues (dry run unless --move)",
    )
    _stack_options(redrive)
    redrive.add_argument(
        "--queue", action="append", metavar="LOGICAL_ID", help="only this DLQ (repeatable)"
    )
    redrive.add_argument("--move", action="store_true", help="move (default: dry run)")
    redrive.add_argument("--limit", type=_positive_int, help="move at most this many per DLQ")
    replay = ops_commands.add_parser(
        "replay", help="stored webhook events through the Events stream's consumer again"
    )
    _stack_options(replay)
    replay.add_argument("--shop", metavar="SHOP_ID", help="only this shop's events")
    replay.add_argument("--since", type=_moment, help="sent at or after (ISO 8601, UTC if bare)")
    replay.add_argument("--until", type=_moment, help="sent at or before (ISO 8601)")
    replay.add_argument(
        "--type",
        action="append",
        type=_event_type,
        metavar="TYPE",
        help="only this webhook type, number or name (repeatable)",
    )
    replay.add_argument(
        "--order", action="append", metavar="ORDER_ID", help="only events naming this order"
    )
    replay.add_argument("--dry-run", action="store_true", help="count what would be replayed")
    replay_quarantine = ops_commands.add_parser(
        "replay-quarantine",
        help="quarantined webhook bodies through the intake's parse and write again, after a fix",
    )
    _stack_options(replay_quarantine)
    replay_quarantine.add_argument(
        "--dry-run", action="store_true", help="say what would be stored and what still fails"
    )
    from tts_local.ops_show_cli import add_parsers as add_show_parsers

    add_show_parsers(ops_commands, _stack_options)

    schemas = commands.add_parser(
        "schemas",
        help="message JSON schemas (schemas/outbound, schemas/privacy, schemas/inbound)",
    )
    schemas.add_argument(
        "schemas_command", choices=["write", "check"], metavar="ACTION", help="write | check"
    )
    schemas.add_argument("--root", type=Path, default=Path("."), help="repository root")

    privacy = commands.add_parser("privacy", help="privacy deletion receipts")
    privacy_commands = privacy.add_subparsers(
        dest="privacy_command", required=True, metavar="ACTION"
    )
    receipt = privacy_commands.add_parser("receipt", help="print the receipt of REQUEST_ID")
    receipt.add_argument("request_id", metavar="REQUEST_ID")
    receipt.add_argument(
        "--table",
        default=os.environ.get("PRIVACY_REQUESTS_TABLE_NAME", ""),
        help="PrivacyRequestsTable name (default: $PRIVACY_REQUESTS_TABLE_NAME)",
    )
    from tts_local.mapping_cli import add_mapping_parser

    add_mapping_parser(commands)
    from tts_local.carriers_cli import add_carriers_parser

    add_carriers_parser(commands)
    return parser


def run_privacy_receipt(args: argparse.Namespace) -> int:
    """The receipt as JSON (no PII in it); exit 1 when there is none, 2 without a table."""
    if not args.table:
        print(
            "tts-sync privacy receipt: error: no table: pass --table or set "
            "PRIVACY_REQUESTS_TABLE_NAME (stack output PrivacyRequestsTableName)",
            file=sys.stderr,
        )
        return 2
    from tts_sync.aws import dynamodb_client
    from tts_sync.errors import StorageUnavailableError
    from tts_sync.privacy.dynamo_store import DynamoReceiptStore

    try:
        receipt = DynamoReceiptStore(dynamodb_client(), args.table).get(args.request_id)
    except StorageUnavailableError as exc:
        print(f"tts-sync privacy receipt: error: storage: {exc}", file=sys.stderr)
        return 1
    if receipt is None:
        print(f"tts-sync privacy receipt: no receipt for {args.request_id!r}", file=sys.stderr)
        return 1
    print(json.dumps(receipt.model_dump(mode="json"), indent=2, sort_keys=True))
    return 0


def _app_credentials() -> tuple[str, str]:
    return (
        os.environ.get("TTS_APP_KEY") or LOCAL_APP_KEY,
        os.environ.get("TTS_APP_SECRET") or LOCAL_APP_SECRET,
    )


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # moto's request log and the HTTP libraries drown everything else, even in verbose mode.
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "httpx", "httpcore", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if verbose:
        logging.getLogger("tts_local").setLevel(logging.DEBUG)


def run_local(args: argparse.Namespace) -> int:
    # Imported here: `tts-sync webhook send` should not pay for moto and the SAM translator.
    from tts_local.stack import LocalStack
    from tts_local.stack.intrinsics import IntrinsicError
    from tts_local.stack.lifecycle import StartCancelled, StartupError
    from tts_local.stack.resources import ProvisioningError
    from tts_local.stack.supervisor import SandboxChild
    from tts_local.stack.template_loader import TemplateError
    from tts_local.stop_signals import StopSignals, kill_groups_at_once

    _configure_logging(args.verbose)
    running: list[Any] = []  # the stack, once built: its children die with a second signal
    signals = StopSignals(
        lambda signum: kill_groups_at_once(running[0].child_pids() if running else [], signum)
    )
    signals.install()

    app_key, app_secret = _app_credentials()
    sandbox, tiktok_env = _tiktok_api(args, app_key, app_secret)
    stack = LocalStack(
        args.template,
        port=args.port,
        parameter_overrides=dict(args.parameter_overrides),
        function_env_overrides=tiktok_env,
        on_fatal=lambda message: signals.wake(),  # from the supervisor's thread
    )
    running.append(stack)
    started = False
    try:
        stack.start(should_stop=lambda: signals.requested is not None)
        started = True
    except StartCancelled:
        return 0
    except (TemplateError, IntrinsicError, ProvisioningError, StartupError) as exc:
        print(f"tts-sync local: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tts-sync local: error: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        log.debug("start failed", exc_info=True)
        print(f"tts-sync local: error: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if sandbox is not None and not started:
            sandbox.stop()
    status = 0
    try:
        if sandbox is not None:
            stack.watch(SandboxChild(sandbox))
        # Anything in this process that builds a boto3 client (the demo, say) talks to moto.
        os.environ.update(stack.client_environment())
        _store_app_credentials(stack, app_key, app_secret)
        ready = {**stack.ready_info, "sandbox_url": sandbox.url if sandbox else None}
        sys.stdout.write("READY " + json.dumps(ready) + "\n")
        sys.stdout.flush()

        def stopping() -> bool:
            return signals.requested is not None or stack.failure is not None

        if args.demo:
            # On its own thread: the main thread keeps answering signals and the supervisor.
            threading.Thread(
                target=_run_demo,
                args=(ready, app_key, app_secret, stopping),
                name="demo",
                daemon=True,
            ).start()
        while not stopping():
            signals.wait(1.0)
        if stack.failure is not None:
            print(f"tts-sync local: error: {stack.failure}; stopping", file=sys.stderr)
            status = 1
        else:
            log.info("received %s, shutting down", signal.Signals(signals.requested or 2).name)
    finally:
        stack.stop()
        if sandbox is not None:
            sandbox.stop()
    return status


def _tiktok_api(
    args: argparse.Namespace, app_key: str, app_secret: str
) -> tuple[Any, dict[str, str]]:
    """The TikTok Shop API the functions call: the built-in sandbox (seeded with the demo shop),
    or the API named by --api-base-url / --auth-base-url (then no sandbox runs)."""
    if args.api_base_url or args.auth_base_url:
        return None, {
            "TTS_API_BASE_URL": args.api_base_url or REAL_API_BASE_URL,
            "TTS_AUTH_BASE_URL": args.auth_base_url or REAL_AUTH_BASE_URL,
        }
    from tts_local.sandbox import Sandbox

    sandbox = Sandbox(app_key, app_secret, port=0).start()
    sandbox.seed_demo_data()
    return sandbox, {
        "TTS_API_BASE_URL": sandbox.url,
        "TTS_AUTH_BASE_URL": sandbox.url,
        "TTS_AUTHORIZE_URL": sandbox.url + sandbox.authorize_path,
    }


def _store_app_credentials(stack: Any, app_key: str, app_secret: str) -> None:
    if CREDENTIALS_SECRET_ID not in stack.resources:
        return
    stack.client("secretsmanager").put_secret_value(
        SecretId=stack.physical_id(CREDENTIALS_SECRET_ID),
        SecretString=json.dumps({"app_key": app_key, "app_secret": app_secret}),
    )


def _run_demo(
    ready: dict[str, Any], app_key: str, app_secret: str, stopping: Callable[[], bool]
) -> None:
    from tts_local.demo import run_demo  # another module's job; imported only when asked for

    try:
        status = run_demo(ready, app_key, app_secret)
    except Exception as exc:
        if stopping():  # the stack went away under the demo: that is not the demo's failure
            return
        log.error("demo failed (%s: %s); the stack keeps running", type(exc).__name__, exc)
        log.debug("demo failure", exc_info=True)
        return
    if status != 0:
        log.warning("demo finished with status %d; the stack keeps running", status)


def run_webhook_send(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        print(
            f"tts-sync webhook send: error: FILE {str(path)!r} is not a readable file",
            file=sys.stderr,
        )
        return 2
    from tts_local.webhook_sender import send_file

    app_key, app_secret = _app_credentials()
    try:
        status, body = send_file(
            path, args.url, app_key, app_secret, args.timeout, keep_timestamp=args.keep_timestamp
        )
    except ValueError as exc:  # the sender rejects bodies it cannot sign (e.g. not JSON)
        print(f"tts-sync webhook send: error: {path}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # connection refused, timeout...: say what, not a traceback
        print(f"tts-sync webhook send: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(status)
    print(body)
    return 0 if 200 <= status < 300 else 1


def run_schemas(args: argparse.Namespace) -> int:
    from tts_sync.fulfilment import schemas as tracking_schemas
    from tts_sync.outbound import schemas as outbound_schemas
    from tts_sync.outbound.schemas import REGENERATE_COMMAND
    from tts_sync.privacy import schemas as privacy_schemas
    from tts_sync.stock import schemas as inbound_schemas

    writers = (
        outbound_schemas.write_schemas,
        privacy_schemas.write_schemas,
        inbound_schemas.write_inbound_schemas,
        tracking_schemas.write_schemas,
    )
    checks = (
        outbound_schemas.schema_drift,
        privacy_schemas.schema_drift,
        inbound_schemas.inbound_schema_drift,
        tracking_schemas.schema_drift,
    )
    if args.schemas_command == "write":
        for write in writers:
            for path in write(args.root):
                print(path)
        return 0
    problems = [problem for check in checks for problem in check(args.root)]
    for problem in problems:
        print(f"tts-sync schemas check: {problem}", file=sys.stderr)
    if problems:
        print(f"regenerate with: {REGENERATE_COMMAND}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "local":
        return run_local(args)
    if args.command == "schemas":
        return run_schemas(args)
    if args.command == "ops":
        from tts_local.ops_cli import run_ops

        return run_ops(args)
    if args.command == "privacy":
        return run_privacy_receipt(args)
    if args.command == "mapping":
        from tts_local.mapping_cli import run_mapping

        return run_mapping(args)
    if args.command == "carriers":
        from tts_local.carriers_cli import run_carriers

        return run_carriers(args)
    return run_webhook_send(args)


if __name__ == "__main__":
    sys.exit(main())
