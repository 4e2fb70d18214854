"""The Sandbox's order-lifecycle methods: orders placed and moved as TikTok would, with the
webhooks each move makes TikTok send, recorded and (notify=True) delivered to the shop's
subscribed address for that type. Split out of sandbox.py by responsibility; the rules
themselves are in order_lifecycle.py."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from tts_local.sandbox import order_lifecycle
from tts_local.sandbox.orders import Order
from tts_local.sandbox.state import SandboxState
from tts_local.sandbox.webhooks import TIKTOK_EVENT_TYPE_NAMES, Delivery, Notification


class _SandboxCore(Protocol):
    """What these methods need from the Sandbox they are mixed into."""

    state: SandboxState
    _notifications: list[Notification]
    _log_lock: threading.Lock

    def now(self) -> float: ...

    def deliver_webhooks(
        self, url: str, notifications: Sequence[Notification]
    ) -> list[Delivery]: ...

    def _publish(self, notifications: Sequence[Notification], notify: bool) -> None: ...

    def _default_warehouse(self, shop_id: str) -> str: ...


class OrderLifecycleMethods:
    """Mixed into Sandbox: `self` is the Sandbox (see _SandboxCore)."""

    def place_order(
        self: _SandboxCore,
        shop_id: str,
        items: Sequence[dict[str, Any]],
        *,
        order_id: str | None = None,
        paid: bool = True,
        on_hold: bool = True,
        warehouse_id: str | None = None,
        package_split: Sequence[Sequence[int]] | None = None,
        buyer_message: str = "",
        notify: bool = True,
        at: int | None = None,
    ) -> Order:
        """A buyer places an order: UNPAID, then (paid) ON_HOLD - the US/UK one-hour window -
        or AWAITING_SHIPMENT. warehouse_id None: the shop's default sales warehouse."""
        when = int(self.now()) if at is None else at
        with self.state.lock:
            warehouse = self._default_warehouse(shop_id) if warehouse_id is None else warehouse_id
            order, sent = order_lifecycle.create_order(
                self.state,
                shop_id,
                items,
                at=when,
                order_id=order_id,
                warehouse_id=warehouse,
                package_split=package_split,
                buyer_message=buyer_message,
            )
            if paid:
                status = "ON_HOLD" if on_hold else "AWAITING_SHIPMENT"
                sent += order_lifecycle.advance(self.state, order, status, at=when)
        self._publish(sent, notify)
        return order

    def advance_order(
        self: _SandboxCore,
        order_id: str,
        status: str,
        *,
        notify: bool = True,
        at: int | None = None,
        cancellation_initiator: str = "BUYER",
        cancel_reason: str = "No longer needed",
    ) -> Order:
        """One valid lifecycle step (ValueError otherwise), with TikTok's webhooks."""
        with self.state.lock:
            order = self.state.orders[order_id]
            sent = order_lifecycle.advance(
                self.state,
                order,
                status,
                at=int(self.now()) if at is None else at,
                cancellation_initiator=cancellation_initiator,
                cancel_reason=cancel_reason,
            )
        self._publish(sent, notify)
        return order

    def change_address(
        self: _SandboxCore,
        order_id: str,
        *,
        notify: bool = True,
        at: int | None = None,
        address: dict[str, Any] | None = None,
    ) -> Order:
        """The buyer edits the address: type-3 webhook; update_time does not move."""
        with self.state.lock:
            order = self.state.orders[order_id]
            when = int(self.now()) if at is None else at
            sent = order_lifecycle.change_address(self.state, order, at=when, address=address)
        self._publish(sent, notify)
        return order

    def notifications_for(
        self: _SandboxCore, order_id: str | None = None, *, type: int | None = None
    ) -> list[Notification]:
        """Every notification the lifecycle produced (delivered or not), oldest first."""
        with self._log_lock:
            return [
                n
                for n in self._notifications
                if (
                    order_id is None
                    or n.data.get("order_id") == order_id
                    or _names_order(n, order_id)
                )
                and (type is None or n.type == type)
            ]

    def _default_warehouse(self: _SandboxCore, shop_id: str) -> str:
        own = [
            w
            for w in self.state.warehouses.values()
            if w.shop_id == shop_id and w.type == "SALES_WAREHOUSE"
        ]
        chosen = next((w for w in own if w.is_default), own[0] if own else None)
        return chosen.id if chosen else ""

    def _publish(self: _SandboxCore, notifications: Sequence[Notification], notify: bool) -> None:
        """Record them; with notify, deliver each to the shop's address for its type."""
        with self._log_lock:
            self._notifications.extend(notifications)
        if not notify:
            return
        for n in notifications:
            with self.state.lock:
                address = self.state.webhooks.get((n.shop_id, TIKTOK_EVENT_TYPE_NAMES[n.type]))
            if address:
                self.deliver_webhooks(address, [n])

    def clear_notifications(self: _SandboxCore) -> None:
        with self._log_lock:
            self._notifications.clear()


def _names_order(notification: Notification, order_id: str | None) -> bool:
    """Whether a package webhook names the order in its package list."""
    return any(order_id in p["order_id_list"] for p in notification.data.get("package_list", ()))
