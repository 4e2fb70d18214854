"""Building, writing and reading the audit trail. Pure domain code: no boto3, no event shapes.

Writing never fails the main path: `write_audit` logs and counts (`AuditWriteFailed`) a failed
write and returns. Reading an order's trail is one query of its own entries plus, for each SKU
it reserved, one query of that SKU's stock-export entries over the time its units were held
(and the first export per warehouse after they were released or consumed, which gave them
back): the stock export writes one entry per SKU and warehouse it pushed, not one per order
holding units, so a SKU held by a thousand open orders costs one write per export, and the
reader joins the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tts_sync.audit.models import AuditEntry, AuditKind, iso_ms, order_subject, sku_subject
from tts_sync.audit.ports import AuditLog, AuditReader
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.orders.models import OrderRecord, StoredOrder
from tts_sync.orders.reservations import Reservation, ReservationState
from tts_sync.outbound import OrderEventDetail, OrderEventType, OutboundEvent

# Bounds of one trail read (an order has a handful of entries; a SKU's exports are many).
MAX_ORDER_ENTRIES = 1_000
MAX_SKU_ENTRIES = 200
_EVENT_RANK = {str(kind): rank for rank, kind in enumerate(OrderEventType)}
SETTLED = frozenset({ReservationState.RELEASED.value, ReservationState.CONSUMED.value})


def write_audit(log: AuditLog, entries: Sequence[AuditEntry]) -> None:
    """Store the entries; a failure is logged and counted, never raised."""
    if not entries:
        return
    try:
        log.record(entries)
    except Exception as exc:  # any failure: the audit must not fail what it describes
        logger.warning(
            "audit entries not written",
            kinds=sorted({entry.kind.value for entry in entries}),
            entries=len(entries),
            error=type(exc).__name__,
        )
        metrics.add_metric(name="AuditWriteFailed", unit=MetricUnit.Count, value=len(entries))


# ---------------------------------------------------------------------- builders


def webhook_received(
    *,
    shop_id: str,
    order_id: str,
    received_at: float,
    event_key: str,
    notification_id: str | None,
    event_type: int,
    event_type_name: str,
    event_timestamp: int,
) -> AuditEntry:
    """A stored webhook that names the order (the Events stream delivers each stored one; a
    retried or replayed record rewrites the same entry)."""
    return AuditEntry(
        subject=order_subject(order_id),
        kind=AuditKind.WEBHOOK_RECEIVED,
        at=received_at,
        ref=notification_id or event_key,
        shop_id=shop_id,
        order_id=order_id,
        reason=f"type {event_type} {event_type_name}".strip(),
        detail={
            "notification_id": notification_id,
            "event_key": event_key,
            "type": event_type,
            "type_name": event_type_name,
            "event_timestamp": event_timestamp,
        },
    )


def hydration_not_done(
    webhook: AuditEntry, *, outcome: str, reason: str, attempted_at: float
) -> AuditEntry:
    """A webhook's order that could not be hydrated (TikTok left it out, failed, refused the
    id; the shop is not connected). Keyed by the webhook: the stream's retries rewrite one
    entry with the latest outcome; a later success adds its own hydration entry."""
    return AuditEntry(
        subject=webhook.subject,
        kind=AuditKind.HYDRATION,
        at=webhook.at,
        ref=f"not-done#{webhook.ref}",
        shop_id=webhook.shop_id,
        order_id=webhook.order_id,
        reason=f"{outcome}: {reason}" if reason and reason != outcome else outcome,
        detail={"outcome": outcome, "attempted_at": iso_ms(attempted_at)},
    )


def order_written(
    previous: OrderRecord | None,
    stored: StoredOrder,
    changes: Sequence[str],
    reservations: Iterable[Reservation],
    *,
    at: float,
) -> list[AuditEntry]:
    """A state that replaced the stored one (revision N is written once: its entries' keys
    name it): the hydration, the status change if any, each reservation changed."""
    record = stored.record
    subject, ref = order_subject(record.order_id), f"r{stored.revision}"
    common = {"subject": subject, "shop_id": record.shop_id, "order_id": record.order_id}
    entries = [
        AuditEntry(
            kind=AuditKind.HYDRATION,
            at=at,
            ref=ref,
            reason=f"read from TikTok ({record.source.value}): {', '.join(changes) or 'no change'}",
            detail={
                "revision": stored.revision,
                "status": record.status,
                "update_time": record.update_time,
                "source": record.source.value,
                "changes": ",".join(changes),
            },
            **common,
        )
    ]
    before = previous.status if previous else None
    if before != record.status:
        entries.append(
            AuditEntry(
                kind=AuditKind.STATE_CHANGE,
                at=at,
                ref=ref,
                reason=f"{before or '(new)'} -> {record.status}",
                detail={
                    "from": before,
                    "to": record.status,
                    "update_time": record.update_time,
                    "revision": stored.revision,
                },
                **common,
            )
        )
    for reservation in reservations:
        entries.append(
            AuditEntry(
                kind=AuditKind.RESERVATION_CHANGE,
                at=at,
                ref=f"{ref}#{reservation.sku_id}",
                reason=f"{reservation.state.value}: {reservation.units} unit(s) held",
                detail={
                    "sku_id": reservation.sku_id,
                    "state": reservation.state.value,
                    "units": reservation.units,
                    "ordered_units": reservation.ordered_units,
                    "order_status": reservation.order_status,
                },
                **common,
            )
        )
    return entries


def outbound_events(events: Iterable[OutboundEvent], failed_ids: set[str]) -> list[AuditEntry]:
    """Order events published (or left pending: the later publish rewrites the entry)."""
    entries = []
    for event in events:
        detail = event.detail
        if not isinstance(detail, OrderEventDetail):
            continue
        published = detail.event_id not in failed_ids
        entries.append(
            AuditEntry(
                subject=order_subject(detail.order_id),
                kind=AuditKind.OUTBOUND_EVENT,
                at=detail.occurred_at.timestamp(),
                # Created before the stage it enters, at one occurred_at (the change's).
                ref=f"{_EVENT_RANK.get(event.detail_type, 9)}#{detail.event_id}",
                shop_id=detail.shop_id,
                order_id=detail.order_id,
                reason=(
                    f"{event.detail_type} published"
                    if published
                    else f"{event.detail_type} not published: kept pending on the order"
                ),
                detail={
                    "type": event.detail_type,
                    "event_id": detail.event_id,
                    "published": published,
                },
            )
        )
    return entries


def stock_export(
    *,
    shop_id: str,
    sku_id: str,
    warehouse_id: str,
    value: int,
    reserved_units: int,
    confirmed: bool,
    outcome: str,
    at: float,
    reason: str = "",
    code: int | None = None,
) -> AuditEntry:
    """One SKU and warehouse pushed to TikTok (per SKU, joined to orders when read)."""
    return AuditEntry(
        subject=sku_subject(shop_id, sku_id),
        kind=AuditKind.STOCK_EXPORT,
        at=at,
        ref=warehouse_id,
        shop_id=shop_id,
        reason=reason or f"{outcome}: sent {value}" + (", confirmed" if confirmed else ""),
        detail={
            "sku_id": sku_id,
            "warehouse_id": warehouse_id,
            "value_sent": value,
            "confirmed": confirmed,
            "reserved_units": reserved_units,
            "outcome": outcome,
            "code": code,
        },
    )


def tracking_upload(
    *,
    shop_id: str,
    order_id: str,
    package_id: str,
    outcome: str,
    at: float,
    ref: str = "",
    provider_id: str = "",
    action: str = "",
    reason: str = "",
    code: str | None = None,
    tiktok_code: int | None = None,
    attempted_at: float | None = None,
) -> AuditEntry:
    """One outcome of a tracking upload (tts_sync.fulfilment.upload.upload_audit_entry):
    `at` and `ref` name the message and the outcome (a redelivery of the message rewrites its
    entry; `attempted_at` is the latest attempt). No tracking number (it opens the carrier's
    page with the buyer's address), no address."""
    return AuditEntry(
        subject=order_subject(order_id),
        kind=AuditKind.TRACKING_UPLOAD,
        at=at,
        ref=ref or package_id,
        shop_id=shop_id,
        order_id=order_id,
        reason=reason or outcome,
        detail={
            "package_id": package_id,
            "provider_id": provider_id,
            "action": action,
            "outcome": outcome,
            "code": code,
            "tiktok_code": tiktok_code,
            "attempted_at": iso_ms(attempted_at) if attempted_at is not None else None,
        },
    )


# ---------------------------------------------------------------------- reading


@dataclass
class OrderTrail:
    order_id: str
    shop_ids: list[str] = field(default_factory=list)
    entries: list[AuditEntry] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "order_id": self.order_id,
            "shop_ids": self.shop_ids,
            "entries": [entry.as_view() for entry in self.entries],
        }


def order_trail(reader: AuditReader, order_id: str, shop_id: str | None = None) -> OrderTrail:
    own = reader.entries(order_subject(order_id), limit=MAX_ORDER_ENTRIES)
    if shop_id:
        own = [entry for entry in own if entry.shop_id == shop_id]
    trail = OrderTrail(order_id, sorted({entry.shop_id for entry in own}), list(own))
    for (shop, sku_id), (start, settled_at) in _holding_windows(own).items():
        trail.entries += _exports_while_held(reader, shop, sku_id, start, settled_at)
    trail.entries.sort(key=lambda entry: entry.sort_key)
    return trail


def _holding_windows(
    entries: Sequence[AuditEntry],
) -> dict[tuple[str, str], tuple[float, float | None]]:
    """Per (shop, SKU): when the order first reserved it, and when it last settled (None:
    still held)."""
    windows: dict[tuple[str, str], tuple[float, float | None]] = {}
    for entry in entries:  # in key order: oldest first
        if entry.kind is not AuditKind.RESERVATION_CHANGE:
            continue
        key = (entry.shop_id, str(entry.detail.get("sku_id")))
        start = windows[key][0] if key in windows else entry.at
        windows[key] = (start, entry.at if entry.detail.get("state") in SETTLED else None)
    return windows


def _exports_while_held(
    reader: AuditReader, shop_id: str, sku_id: str, start: float, settled_at: float | None
) -> list[AuditEntry]:
    exports = reader.entries(
        sku_subject(shop_id, sku_id), since=iso_ms(start), limit=MAX_SKU_ENTRIES
    )
    if settled_at is None:
        return exports
    kept, after = [], set()
    for entry in exports:
        if entry.at <= settled_at:
            kept.append(entry)
        elif entry.ref not in after:  # the first push per warehouse once the units settled
            after.add(entry.ref)
            kept.append(entry)
    return kept


def render_trail(trail: OrderTrail) -> str:
    if not trail.entries:
        return f"no audit entries for order {trail.order_id} (or they expired)"
    lines = [f"order {trail.order_id} (shop {', '.join(trail.shop_ids)})"]
    for entry in trail.entries:
        facts = " ".join(
            f"{key}={value}" for key, value in entry.detail.items() if value not in (None, "")
        )
        lines.append(f"{entry.time}  {entry.kind.value:<18}  {entry.reason}  [{facts}]")
    return "\n".join(lines)
