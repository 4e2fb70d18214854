"""How an order moves on TikTok, and the webhooks each move makes TikTok send.

Plain functions on SandboxState (the caller holds the lock), no HTTP: the Sandbox's methods
and the bulk scenarios both drive orders through here, and deliver (or not) what comes back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tts_local.sandbox.orders import LineItem, Order, Package, recipient_address
from tts_local.sandbox.state import SandboxState
from tts_local.sandbox.webhooks import EVENT_TYPE_NUMBERS, Notification

TRANSITIONS: dict[str, frozenset[str]] = {
    "UNPAID": frozenset({"ON_HOLD", "AWAITING_SHIPMENT", "CANCELLED"}),
    "ON_HOLD": frozenset({"AWAITING_SHIPMENT", "CANCELLED"}),
    "AWAITING_SHIPMENT": frozenset(
        {"AWAITING_COLLECTION", "PARTIALLY_SHIPPING", "IN_TRANSIT", "CANCELLED"}
    ),
    "AWAITING_COLLECTION": frozenset({"IN_TRANSIT"}),
    "PARTIALLY_SHIPPING": frozenset({"IN_TRANSIT"}),
    "IN_TRANSIT": frozenset({"DELIVERED"}),
    "DELIVERED": frozenset({"COMPLETED"}),
    "COMPLETED": frozenset(),
    "CANCELLED": frozenset(),
}
ADDRESS_EDITABLE = frozenset({"UNPAID", "ON_HOLD", "AWAITING_SHIPMENT"})
SHIPPED = frozenset({"AWAITING_COLLECTION", "PARTIALLY_SHIPPING", "IN_TRANSIT"})
CANCELLATION_COMPLETE = "CANCELLATION_REQUEST_COMPLETE"
CANCELLATION_INITIATORS = frozenset({"BUYER", "SELLER", "SYSTEM"})


def line_items_from_specs(
    state: SandboxState, specs: Sequence[Mapping[str, Any]]
) -> list[LineItem]:
    """Item specs to one-unit lines: {"sku_id", "product_id"?, "seller_sku"?, "price"?,
    "original_price"?, "currency"?, "quantity"?, "is_gift"?, "tax_rate"?, "product_name"?,
    "sku_name"?, "combined_listing_skus"?}. A gift is free to the buyer: sale price 0."""
    lines = []
    for spec in specs:
        product = state.products.get(str(spec.get("product_id", "")))
        product_name = spec.get("product_name") or (product.title if product else "")
        price = str(spec.get("price", "10.00"))
        is_gift = bool(spec.get("is_gift", False))
        for _ in range(int(spec.get("quantity", 1))):
            lines.append(
                LineItem(
                    id=state.next_id(),
                    sku_id=str(spec["sku_id"]),
                    product_id=str(spec.get("product_id", "")),
                    seller_sku=str(spec.get("seller_sku", "")),
                    sale_price="0.00" if is_gift else price,
                    currency=str(spec.get("currency", "USD")),
                    product_name=str(product_name),
                    sku_name=str(spec.get("sku_name", "Default")),
                    original_price=str(spec.get("original_price", price)),
                    is_gift=is_gift,
                    tax_rate=str(spec.get("tax_rate", "0")),
                    combined_listing_skus=[
                        {
                            "sku_id": str(c["sku_id"]),
                            "product_id": str(c.get("product_id", "")),
                            "seller_sku": str(c.get("seller_sku", "")),
                            "sku_count": int(c.get("sku_count", 1)),
                        }
                        for c in spec.get("combined_listing_skus", ())
                    ],
                )
            )
    return lines


def notification(
    state: SandboxState, order: Order, event_type: str, data: dict[str, Any], at: int
) -> Notification:
    return Notification(
        type=EVENT_TYPE_NUMBERS[event_type],
        shop_id=order.shop_id,
        data=data,
        tts_notification_id=state.next_id(),
        timestamp=at,
    )


def status_notification(state: SandboxState, order: Order) -> Notification:
    return notification(
        state,
        order,
        "ORDER_STATUS_CHANGE",
        {
            "order_id": order.id,
            # The webhook page spells it CANCEL; the Order API says CANCELLED.
            "order_status": "CANCEL" if order.status == "CANCELLED" else order.status,
            "is_on_hold_order": order.status == "ON_HOLD",
            "update_time": order.update_time,
        },
        order.update_time,
    )


def create_order(
    state: SandboxState,
    shop_id: str,
    items: Sequence[Mapping[str, Any]],
    *,
    at: int,
    order_id: str | None = None,
    warehouse_id: str = "",
    delivery_option_id: str = "",
    package_split: Sequence[Sequence[int]] | None = None,
    buyer_message: str = "",
) -> tuple[Order, list[Notification]]:
    """A new UNPAID order and its first status webhook."""
    order_id = order_id or state.next_id("57")
    if order_id in state.orders:
        raise ValueError(f"order {order_id} already exists")
    number = len(state.orders)
    order = Order(
        id=order_id,
        shop_id=shop_id,
        status="UNPAID",
        create_time=at,
        update_time=at,
        line_items=line_items_from_specs(state, items),
        recipient=recipient_address(number),
        buyer_email=f"buyer{order_id[-6:]}@scs.tiktokw.us",  # TikTok's relay address
        warehouse_id=warehouse_id,
        delivery_option_id=delivery_option_id,
        user_id=f"7{order_id[-17:]}",
        buyer_message=buyer_message,
        buyer_nickname=f"buyer{order_id[-4:]}",
        buyer_avatar=f"https://p16-oec-va.ibyteimg.com/avatar/{order_id[-8:]}.jpeg",
        package_split=[list(g) for g in package_split] if package_split else None,
    )
    if not order.line_items:
        raise ValueError("an order needs at least one line item")
    state.orders[order.id] = order
    return order, [status_notification(state, order)]


def _stamp(order: Order, at: int) -> int:
    # TikTok's update_time is a status clock that only moves forward.
    order.update_time = max(at, order.update_time + 1)
    return order.update_time


def advance(
    state: SandboxState,
    order: Order,
    status: str,
    *,
    at: int,
    cancellation_initiator: str = "BUYER",
    cancel_reason: str = "No longer needed",
) -> list[Notification]:
    """Move the order one valid step; ValueError for a move TikTok would never make."""
    if status not in TRANSITIONS.get(order.status, frozenset()):
        raise ValueError(f"order {order.id}: {order.status} -> {status} is not a valid move")
    if status == "CANCELLED" and cancellation_initiator not in CANCELLATION_INITIATORS:
        raise ValueError(f"cancellation_initiator must be one of {CANCELLATION_INITIATORS}")
    when = _stamp(order, at)
    was_unpaid = order.status == "UNPAID"
    order.status = status
    sent: list[Notification] = []
    if was_unpaid and status != "CANCELLED":
        order.paid_time = when
    if status == "CANCELLED":
        order.cancel_reason = cancel_reason
        order.cancellation_initiator = cancellation_initiator
        order.request_cancel_time = when
        sent.append(
            notification(
                state,
                order,
                "CANCELLATION_STATUS_CHANGE",
                {
                    "order_id": order.id,
                    "cancellations_role": cancellation_initiator,
                    "cancel_status": CANCELLATION_COMPLETE,
                    "cancel_id": state.next_id("58"),
                    "create_time": when,
                },
                when,
            )
        )
    sent.append(status_notification(state, order))
    if status == "AWAITING_SHIPMENT" and not order.packages:
        sent.extend(_create_packages(state, order, when))
    if status in SHIPPED | {"DELIVERED", "COMPLETED"}:
        _move_packages(order, status, when)
    return sent


def _create_packages(state: SandboxState, order: Order, when: int) -> list[Notification]:
    groups = order.package_split or [list(range(len(order.line_items)))]
    packages = []
    for group in groups:
        package = Package(id=state.next_id(), shop_id=order.shop_id, order_ids=[order.id])
        state.packages[package.id] = package
        order.attach_package(package, [order.line_items[i] for i in group])
        packages.append(package)
    if len(packages) == 1:
        return []  # TikTok's package webhook reports splits and combines, not plain creation
    return [
        notification(
            state,
            order,
            "PACKAGE_UPDATE",
            {
                "sc_type": "SPLIT",
                "role_type": "SYSTEM",
                "package_list": [
                    {"package_id": p.id, "order_id_list": list(p.order_ids)} for p in packages
                ],
                "update_time": when,
            },
            when,
        )
    ]


def _move_packages(order: Order, status: str, when: int) -> None:
    # Shipping through the lifecycle (not the fulfilment endpoints) ships every package at once.
    for package in order.packages.values():
        if package.status == "PROCESSING" and status != "AWAITING_COLLECTION":
            package.status = "FULFILLING"
            package.tracking_number = package.tracking_number or f"TRK{package.id[-10:]}"
            package.shipped_at = when
        if status in ("DELIVERED", "COMPLETED"):
            package.status = "COMPLETED"


def change_address(
    state: SandboxState, order: Order, *, at: int, address: dict[str, Any] | None = None
) -> list[Notification]:
    """The buyer edits the address: a type-3 webhook, and update_time stays where it was."""
    if order.status not in ADDRESS_EDITABLE:
        raise ValueError(f"order {order.id} is {order.status}: the address can no longer change")
    order.recipient = address or recipient_address(int(state.next_id()[-7:]))
    order.has_updated_recipient_address = True
    data = {"order_id": order.id, "update_time": at}
    return [notification(state, order, "RECIPIENT_ADDRESS_UPDATE", data, at)]
