"""Check before acting: from the order as TikTok shows it now, exactly one of mark shipped /
ship package (self_shipment) / update shipping info / nothing, or a refusal with its code.
Pure functions, no I/O: upload.py reads TikTok and acts on the decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tts_sync.fulfilment.carriers import UnknownCarrierError, resolve_carrier
from tts_sync.fulfilment.models import CarrierMap, FulfilmentSettings, RefusalCode, TrackingUpload
from tts_sync.orders.models import UploadedShipment
from tts_sync.tiktok.models import Order, OrderLineItem

# Markets where Mark Package As Shipped exists (tiktok-shop-api.md section 4); elsewhere Ship
# Package with self_shipment on an existing package id.
MARK_SHIPPED_MARKETS = frozenset({"US", "GB", "UK", "ES", "IE", "IT", "DE", "FR", "JP"})
CORRECTION_WINDOW_SECONDS = 72 * 3600
SHIPPABLE_STATUSES = frozenset({"AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"})
ON_HOLD_SECONDS = 3600  # TikTok's buyer-cancellation window after payment (US/UK)
ON_HOLD_MIN_WAIT = 60
ON_HOLD_MAX_WAIT = 900  # SQS visibility per try while on hold (see README: ORDER_ON_HOLD)
# Past the nominal end (payment + 1 h) TikTok can be slow to lift the hold: back off rather
# than burn the remaining receives a minute apart (README: order_on_hold gives the total).
ON_HOLD_OVERDUE_WAITS = ((300, 300), (None, ON_HOLD_MAX_WAIT))


class Action(StrEnum):
    MARK_SHIPPED = "mark_shipped"
    SHIP_PACKAGE = "ship_package"
    UPDATE_SHIPPING_INFO = "update_shipping_info"
    NOTHING = "already_shipped"


@dataclass(frozen=True)
class Decision:
    action: Action
    shipping_provider_id: str
    package_id: str = ""  # ship/update: the package; nothing: the package already shipped
    line_item_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Refused:
    code: RefusalCode
    reason: str
    retry_after: int | None = None  # seconds; set only for retryable refusals (ON_HOLD)


def decide(
    message: TrackingUpload,
    order: Order,
    *,
    region: str,
    carriers: CarrierMap,
    settings: FulfilmentSettings,
    uploaded: list[UploadedShipment],
    now: float,
) -> Decision | Refused:
    status = "CANCELLED" if order.status == "CANCEL" else order.status
    ref = f"order {order.id}"
    if order.shipping_type == "TIKTOK" or order.fulfillment_type == "FULFILLMENT_BY_TIKTOK":
        return Refused(
            RefusalCode.TIKTOK_SHIPPING,
            f"{ref} ships with TikTok (shipping_type {order.shipping_type or '-'}, "
            f"fulfillment_type {order.fulfillment_type or '-'}): TikTok's carrier tracks it, "
            "there is nothing to upload",
        )
    if status == "CANCELLED":
        why = f": {order.cancel_reason}" if order.cancel_reason else ""
        return Refused(RefusalCode.ORDER_CANCELLED, f"{ref} is cancelled{why}; do not ship it")
    if status == "UNPAID":
        return Refused(
            RefusalCode.ORDER_UNPAID, f"{ref} is UNPAID: it cannot ship until the buyer pays"
        )
    if status == "ON_HOLD" or order.is_on_hold_order:
        paid = order.paid_time or order.create_time
        return Refused(
            RefusalCode.ORDER_ON_HOLD,
            f"{ref} is ON_HOLD (the buyer may still cancel, for up to an hour after payment); "
            "retried when the hold ends",
            retry_after=on_hold_wait(paid, now),
        )
    lines = _target_lines(message, order)
    if isinstance(lines, Refused):
        return lines
    cancelled = [line for line in lines if _is_cancelled(line)]
    if cancelled and message.line_item_ids is not None:
        return Refused(
            RefusalCode.LINE_CANCELLED,
            f"line items {', '.join(line.id for line in cancelled)} of {ref} are cancelled; "
            "do not ship them",
        )
    lines = [line for line in lines if not _is_cancelled(line)]
    if not lines:
        return Refused(
            RefusalCode.LINE_CANCELLED, f"every line to ship in {ref} is cancelled; do not ship it"
        )
    shipped = [line for line in lines if line.tracking_number]
    open_lines = [line for line in lines if not line.tracking_number]
    if not open_lines:
        return _already_shipped(message, order, shipped, carriers, uploaded, now)
    named = message.package_id is not None or message.line_item_ids is not None
    if named and any(line.tracking_number != message.tracking_number for line in shipped):
        return Refused(
            RefusalCode.MIXED_SHIPMENT,
            f"of the {len(lines)} lines named in {ref}, {len(shipped)} already shipped with "
            "another tracking number and the others not: name one package or its lines",
        )
    if status not in SHIPPABLE_STATUSES:
        return Refused(
            RefusalCode.ORDER_NOT_SHIPPABLE,
            f"{ref} is {status}: only AWAITING_SHIPMENT or PARTIALLY_SHIPPING orders ship",
        )
    if order.is_buyer_request_cancel and not settings.ship_over_cancellation_request:
        return Refused(
            RefusalCode.CANCELLATION_REQUESTED,
            f"the buyer asked to cancel {ref}: answer the request first (or set the shop's "
            "ship_over_cancellation_request: shipping then rejects it)",
        )
    provider = _provider(message, order, carriers)
    if isinstance(provider, Refused):
        return provider
    line_ids = [line.id for line in open_lines]
    if region.upper() in MARK_SHIPPED_MARKETS:
        return Decision(Action.MARK_SHIPPED, provider, line_item_ids=line_ids)
    packages = {line.package_id for line in open_lines}
    package_id = message.package_id or (packages.pop() if len(packages) == 1 else "")
    if not package_id:
        return Refused(
            RefusalCode.PACKAGE_REQUIRED,
            f"{ref}'s shop is in {region or 'an unknown market'}, where TikTok ships by "
            f"package, and the lines to ship are in {len(packages)} packages "
            f"({', '.join(sorted(p or 'none' for p in packages))}): name the package_id",
        )
    left_out = sorted(set(_package_lines(order, package_id)) - set(line_ids))
    if left_out:
        # Ship Package ships the whole package: it would carry lines not named.
        return Refused(
            RefusalCode.PARTIAL_PACKAGE,
            f"the named lines are part of package {package_id} of {ref}, whose other open "
            f"lines ({', '.join(left_out)}) would ship with them: TikTok ships whole packages "
            "here, name them all (or the package_id)",
        )
    return Decision(Action.SHIP_PACKAGE, provider, package_id=package_id, line_item_ids=line_ids)


def on_hold_wait(paid: int, now: float) -> int:
    """Seconds before an ON_HOLD order's message comes back: until the hold's nominal end
    (payment + 1 h + 30 s, 60 s..15 min per receive), then 5 min once, then 15 min."""
    until_end = int(paid + ON_HOLD_SECONDS - now) + 30
    if until_end > 0:
        return max(ON_HOLD_MIN_WAIT, min(ON_HOLD_MAX_WAIT, until_end))
    overdue = -until_end
    for limit, wait in ON_HOLD_OVERDUE_WAITS:
        if limit is None or overdue < limit:
            return wait
    return ON_HOLD_MAX_WAIT


def _is_cancelled(line: OrderLineItem) -> bool:
    return line.display_status.upper() in ("CANCELLED", "CANCEL") or bool(line.cancel_reason)


def _package_lines(order: Order, package_id: str) -> list[str]:
    """The package's open (unshipped, not cancelled) line ids."""
    return [
        line.id
        for line in order.line_items
        if line.package_id == package_id and not line.tracking_number and not _is_cancelled(line)
    ]


def fallback_to_package(
    decision: Decision, order: Order, message: TrackingUpload
) -> Decision | None:
    """Mark shipped is not offered in the shop's market (TikTok's 21008106): ship the
    package instead when the lines to ship are in exactly one known package."""
    packages = {
        line.package_id for line in order.line_items if line.id in set(decision.line_item_ids)
    }
    package_id = message.package_id or (packages.pop() if len(packages) == 1 else "")
    if not package_id or not set(_package_lines(order, package_id)) <= set(decision.line_item_ids):
        return None  # Ship Package would ship lines not named: TikTok's refusal stands
    return Decision(
        Action.SHIP_PACKAGE,
        decision.shipping_provider_id,
        package_id=package_id,
        line_item_ids=decision.line_item_ids,
    )


def _target_lines(message: TrackingUpload, order: Order) -> list[OrderLineItem] | Refused:
    if message.package_id is not None:
        lines = [line for line in order.line_items if line.package_id == message.package_id]
        if not lines:
            known = sorted({line.package_id for line in order.line_items if line.package_id})
            return Refused(
                RefusalCode.UNKNOWN_PACKAGE,
                f"package {message.package_id} is not a package of order {order.id} "
                f"(its packages: {', '.join(known) or 'none yet'})",
            )
        if message.line_item_ids is not None:
            lines = [line for line in lines if line.id in set(message.line_item_ids)]
    else:
        lines = list(order.line_items)
    if message.line_item_ids is not None:
        known_ids = {line.id for line in lines}
        missing = [i for i in message.line_item_ids if i not in known_ids]
        if missing:
            return Refused(
                RefusalCode.UNKNOWN_LINE_ITEMS,
                f"line items {', '.join(missing)} are not lines of order {order.id}"
                + (f" in package {message.package_id}" if message.package_id else ""),
            )
        wanted = set(message.line_item_ids)
        lines = [line for line in lines if line.id in wanted]
    if not lines:
        return Refused(RefusalCode.UNKNOWN_LINE_ITEMS, f"order {order.id} has no line items")
    return lines


def _already_shipped(
    message: TrackingUpload,
    order: Order,
    shipped: list[OrderLineItem],
    carriers: CarrierMap,
    uploaded: list[UploadedShipment],
    now: float,
) -> Decision | Refused:
    packages = sorted({line.package_id for line in shipped})
    same = all(line.tracking_number == message.tracking_number for line in shipped)
    provider = _provider(message, order, carriers)
    if same:
        shown = shipped[0].shipping_provider_id
        if isinstance(provider, Refused) or provider == shown or len(packages) != 1:
            # TikTok already shows this tracking number: nothing to send.
            return Decision(
                Action.NOTHING,
                shown,
                package_id=packages[0] if len(packages) == 1 else "",
                line_item_ids=[line.id for line in shipped],
            )
    if isinstance(provider, Refused):
        return provider
    if len(packages) != 1 or not packages[0]:
        return Refused(
            RefusalCode.MIXED_SHIPMENT,
            f"order {order.id}'s lines shipped in {len(packages)} packages with other tracking "
            "numbers: name the package_id to correct",
        )
    package_id = packages[0]
    in_package = {
        line.id
        for line in order.line_items
        if line.package_id == package_id and not _is_cancelled(line)
    }
    if message.package_id is None and not in_package <= {line.id for line in shipped}:
        # Update Shipping Info changes the whole package: the other lines' tracking too.
        return Refused(
            RefusalCode.PARTIAL_PACKAGE,
            f"the named lines are part of package {package_id} of order {order.id}, shipped "
            "with another tracking number: a correction changes the whole package, name the "
            "package_id (or all its lines)",
        )
    shipped_at = _shipped_time(package_id, order, uploaded)
    if shipped_at is None:
        return Refused(
            RefusalCode.CORRECTION_WINDOW_UNKNOWN,
            f"package {package_id} of order {order.id} shipped with another tracking number, "
            "but neither TikTok (rts_time) nor tts-sync knows when: TikTok takes corrections "
            "only within 72 h of shipping; correct it in Seller Center",
        )
    if now - shipped_at > CORRECTION_WINDOW_SECONDS:
        hours = int((now - shipped_at) // 3600)
        # The tracking numbers stay out of the reason (it is logged); the refusal record
        # keeps the message's.
        return Refused(
            RefusalCode.CORRECTION_TOO_LATE,
            f"package {package_id} of order {order.id} shipped {hours} h ago with another "
            "tracking number: TikTok takes corrections only within 72 h of shipping",
        )
    return Decision(
        Action.UPDATE_SHIPPING_INFO,
        provider,
        package_id=package_id,
        line_item_ids=[line.id for line in shipped],
    )


def _shipped_time(package_id: str, order: Order, uploaded: list[UploadedShipment]) -> int | None:
    """When the package shipped, for the 72 h window: the earliest of TikTok's rts_time and
    any shipment of it tts-sync recorded (a correction does not restart the window)."""
    known = [s.uploaded_at for s in uploaded if s.package_id == package_id and s.uploaded_at]
    if order.rts_time:
        known.append(order.rts_time)
    return min(known) if known else None


def _provider(message: TrackingUpload, order: Order, carriers: CarrierMap) -> str | Refused:
    try:
        return resolve_carrier(carriers, message.carrier, order.delivery_option_id)
    except UnknownCarrierError as exc:
        return Refused(RefusalCode.UNKNOWN_CARRIER, str(exc))
