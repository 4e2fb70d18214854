"""`tts-sync ops audit` and `tts-sync ops show`: an order's audit trail and the state a sync
holds, read through the functions' own console jobs (the same answers as the console test
events in events/console/), on a deployed stack or the local stack alike."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tts_sync.ops.target import TargetError

if TYPE_CHECKING:
    from tts_sync.ops.target import StackTarget

ORDER_SYNC = "OrderSyncFunction"
QUANTITY_EXPORT = "QuantityExportFunction"


def add_parsers(
    ops_commands: Any, stack_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    audit = ops_commands.add_parser(
        "audit", help="an order's audit trail, in order (webhooks, states, stock, events)"
    )
    stack_options(audit)
    audit.add_argument("--order", required=True, metavar="ORDER_ID")
    audit.add_argument("--shop", metavar="SHOP_ID", help="only entries of this shop")
    audit.add_argument("--json", action="store_true", help="the entries as JSON")
    show = ops_commands.add_parser(
        "show", help="an order's state, a SKU's last levels and exports, or a shop's mappings"
    )
    stack_options(show)
    show.add_argument("--order", metavar="ORDER_ID", help="the order record (no PII)")
    show.add_argument("--sku", metavar="SKU", help="a sku_id or seller_sku (needs --shop)")
    show.add_argument(
        "--shop", metavar="SHOP_ID", help="alone: mappings, buffer rules and token status"
    )


def run_audit(target: StackTarget, args: argparse.Namespace) -> int:
    event: dict[str, Any] = {"job": "audit", "order_id": args.order}
    if args.shop:
        event["shop_id"] = args.shop
    answer = target.invoker(ORDER_SYNC)(event)
    if args.json:
        print(json.dumps({k: v for k, v in answer.items() if k != "text"}, indent=2))
    else:
        print(answer.get("text", ""))
    return 0 if answer.get("entries") else 1


def run_show(target: StackTarget, args: argparse.Namespace) -> int:
    if args.order:
        event = {"job": "order", "order_id": args.order}
        if args.shop:
            event["shop_id"] = args.shop
        answer = target.invoker(ORDER_SYNC)(event)
        _print(answer)
        return 0 if answer.get("order") else 1
    if not args.shop:
        raise TargetError("show: give --order, --sku with --shop, or --shop")
    if args.sku:
        # Either name: the job looks the seller SKU up in the catalog map and adds the id.
        stock = target.invoker(QUANTITY_EXPORT)(
            {"job": "stock", "shop_id": args.shop, "sku_id": args.sku, "seller_sku": args.sku}
        )
        _print(stock)
        return 0 if stock.get("stock") else 1
    shop = _answer(target, ORDER_SYNC, {"job": "shop", "shop_id": args.shop})
    export = target.invoker(QUANTITY_EXPORT)
    view = {
        "shop": shop.get("shop", shop),
        "warehouse_mappings": _answer_with(export, {"job": "mappings", "shop_id": args.shop}).get(
            "mappings"
        ),
        "buffer_rules": _answer_with(export, {"job": "buffer_rules", "shop_id": args.shop}).get(
            "rules"
        ),
    }
    _print(view)
    return 0


def _answer(target: StackTarget, function: str, event: dict[str, Any]) -> Mapping[str, Any]:
    return _answer_with(target.invoker(function), event)


def _answer_with(
    invoke: Callable[[dict[str, Any]], Mapping[str, Any]], event: dict[str, Any]
) -> Mapping[str, Any]:
    """One view of several: a part that fails says why instead of hiding the others."""
    try:
        return invoke(event)
    except TargetError as error:
        return {key: {"error": str(error)} for key in ("shop", "mappings", "rules")}


def _print(answer: Mapping[str, Any]) -> None:
    print(json.dumps(answer, indent=2, default=str))
