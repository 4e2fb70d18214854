"""Ship-deadline sweep: seller-shipped orders still unshipped as their ship-by time nears (TikTok's
due time, or 72 h after payment when it gives none). A metric and a log line per order; late
tracking costs the seller their rating."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.orders.ports import OrderStore


@dataclass
class DeadlineReport:
    approaching: int = 0  # ship-by within the warning window
    overdue: int = 0  # ship-by already passed
    order_ids: list[str] = field(default_factory=list)


def sweep_ship_deadlines(
    shop_ids: Iterable[str], store: OrderStore, *, now: int, warning_seconds: int
) -> DeadlineReport:
    report = DeadlineReport()
    for shop_id in shop_ids:
        for due in store.due_to_ship(shop_id, now + warning_seconds):
            overdue = due.ship_by <= now
            if overdue:
                report.overdue += 1
            else:
                report.approaching += 1
            report.order_ids.append(due.order_id)
            logger.warning(
                "order ship deadline overdue" if overdue else "order ship deadline approaching",
                shop_id=shop_id,
                order_id=due.order_id,
                status=due.status,
                ship_by=due.ship_by,
                seconds_left=due.ship_by - now,
            )
    metrics.add_metric(
        name="OrderShipDeadlineApproaching", unit=MetricUnit.Count, value=report.approaching
    )
    metrics.add_metric(name="OrderShipDeadlineOverdue", unit=MetricUnit.Count, value=report.overdue)
    return report
