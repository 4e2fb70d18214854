"""`tts-sync mapping set|show|delete`: the warehouse mapping of a shop (back-office location_id
-> TikTok sales warehouse), and `tts-sync mapping catalog-sync`.

Each command is the quantity export function's console job (events/console/
quantity_export_*.json). It runs where you choose:
- default: in this process, against the tables and TikTok host the environment names
  (STOCK_TABLE_NAME, CATALOG_TABLE_NAME, ..., AWS_ENDPOINT_URL for the local stack);
- `--function NAME`: invokes the deployed QuantityExportFunction (boto3 Lambda Invoke);
- `--print-event`: prints the event, to paste into the console's Test tab.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any


def add_mapping_parser(commands: Any) -> None:
    mapping = commands.add_parser(
        "mapping", help="warehouse mapping and catalog map of a shop (quantity exports)"
    )
    actions = mapping.add_subparsers(dest="mapping_command", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--shop", required=True, help="TikTok shop id")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--function", help="invoke this deployed QuantityExportFunction")
        where.add_argument("--print-event", action="store_true", help="print the console event")

    set_ = actions.add_parser("set", help="map --location to --warehouse (validated)")
    common(set_)
    set_.add_argument("--location", required=True, help="back-office location_id")
    set_.add_argument("--warehouse", required=True, help="TikTok sales warehouse id")
    show = actions.add_parser("show", help="every mapping, with the warehouse's status now")
    common(show)
    delete = actions.add_parser("delete", help="remove the mapping of --location")
    common(delete)
    delete.add_argument("--location", required=True)
    catalog = actions.add_parser("catalog-sync", help="rebuild the catalog map from TikTok")
    common(catalog)


def mapping_event(args: argparse.Namespace) -> dict[str, Any]:
    command = args.mapping_command
    if command == "set":
        return {
            "job": "map_location",
            "shop_id": args.shop,
            "location_id": args.location,
            "warehouse_id": args.warehouse,
        }
    if command == "delete":
        return {"job": "unmap_location", "shop_id": args.shop, "location_id": args.location}
    if command == "catalog-sync":
        return {"job": "catalog_sync", "shop_id": args.shop}
    return {"job": "mappings", "shop_id": args.shop}


def run_mapping(args: argparse.Namespace) -> int:
    def handle(event: dict[str, Any]) -> Any:
        from tts_sync.stock.jobs import handle_stock_job

        return handle_stock_job(event, lambda: 60.0)

    return run_console_job(args, mapping_event(args), handle, "mapping")


def run_console_job(
    args: argparse.Namespace,
    event: dict[str, Any],
    handle: Callable[[dict[str, Any]], Any],
    command: str,
) -> int:
    """A console job's event printed (--print-event), sent to the deployed function
    (--function), or run here against the stack's tables; its answer printed as JSON."""
    if args.print_event:
        print(json.dumps(event))
        return 0
    if args.function:
        import boto3

        reply = boto3.client("lambda").invoke(
            FunctionName=args.function, Payload=json.dumps(event).encode()
        )
        payload = json.loads(reply["Payload"].read() or b"null")
        print(json.dumps(payload, indent=2))
        return 1 if reply.get("FunctionError") else _exit_code(payload)
    from tts_sync.errors import TtsSyncError

    try:
        answer = handle(event)
    except TtsSyncError as exc:
        print(f"tts-sync {command}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return _exit_code(answer)


def _exit_code(answer: Any) -> int:
    # A refused mapping is an answer, not a crash, but scripts should see it.
    return 1 if isinstance(answer, dict) and answer.get("mapped") is False else 0
