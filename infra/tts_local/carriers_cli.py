"""`tts-sync carriers build|show|set|delete|settings|refusals`: a shop's carrier mapping
(back-office carrier name -> TikTok shipping provider) and tracking upload refusals.

Each command is the tracking upload function's console job (events/console/
tracking_upload_*.json). It runs where you choose:
- default: in this process, against the tables and TikTok host the environment names
  (FULFILMENT_TABLE_NAME, ORDERS_TABLE_NAME, ..., AWS_ENDPOINT_URL for the local stack);
- `--function NAME`: invokes the deployed TrackingUploadFunction (boto3 Lambda Invoke);
- `--print-event`: prints the event, to paste into the console's Test tab.
"""

from __future__ import annotations

import argparse
from typing import Any

from tts_local.mapping_cli import run_console_job


def add_carriers_parser(commands: Any) -> None:
    carriers = commands.add_parser(
        "carriers", help="carrier mapping and refusals of a shop (tracking uploads)"
    )
    actions = carriers.add_subparsers(dest="carriers_command", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--shop", required=True, help="TikTok shop id")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--function", help="invoke this deployed TrackingUploadFunction")
        where.add_argument("--print-event", action="store_true", help="print the console event")

    common(actions.add_parser("build", help="rebuild the map from TikTok's providers"))
    common(actions.add_parser("show", help="providers per delivery option, and overrides"))
    set_ = actions.add_parser("set", help="map --carrier to --provider (id or TikTok's name)")
    common(set_)
    set_.add_argument("--carrier", required=True, help="the back office's carrier name")
    set_.add_argument("--provider", required=True, help="TikTok provider id or name")
    set_.add_argument("--delivery-option", default="", help="only for this delivery option")
    delete = actions.add_parser("delete", help="remove the override of --carrier")
    common(delete)
    delete.add_argument("--carrier", required=True)
    delete.add_argument("--delivery-option", default="")
    settings = actions.add_parser("settings", help="show or set the shop's settings")
    common(settings)
    settings.add_argument("--ship-over-cancellation-request", choices=["on", "off"])
    common(actions.add_parser("refusals", help="uploads refused, with code and reason"))


def carriers_event(args: argparse.Namespace) -> dict[str, Any]:
    command, shop = args.carriers_command, args.shop
    if command == "build":
        return {"job": "carriers_build", "shop_id": shop}
    if command == "set":
        return {
            "job": "carrier_override",
            "shop_id": shop,
            "carrier": args.carrier,
            "shipping_provider": args.provider,
            "delivery_option_id": args.delivery_option,
        }
    if command == "delete":
        return {
            "job": "carrier_override_delete",
            "shop_id": shop,
            "carrier": args.carrier,
            "delivery_option_id": args.delivery_option,
        }
    if command == "settings":
        event: dict[str, Any] = {"job": "fulfilment_settings", "shop_id": shop}
        if args.ship_over_cancellation_request:
            event["settings"] = {
                "ship_over_cancellation_request": args.ship_over_cancellation_request == "on"
            }
        return event
    if command == "refusals":
        return {"job": "tracking_refusals", "shop_id": shop}
    return {"job": "carriers", "shop_id": shop}


def run_carriers(args: argparse.Namespace) -> int:
    def handle(event: dict[str, Any]) -> Any:
        from tts_sync.fulfilment.jobs import handle_fulfilment_job

        return handle_fulfilment_job(event, lambda: 60.0)

    return run_console_job(args, carriers_event(args), handle, "carriers")
