"""The number TikTok is told, from a back-office level: pure arithmetic, documented in the README
(Quantity exports > How the number is computed).

    listed = available - units of held TikTok orders created at or after as_of
    listed = (listed - fixed_reserve) * percent_listed / 100, floored, at most max_listed
    listed = clamped to 0..99,999

Orders created at the second of `as_of` or later are subtracted: the back office may not have
counted them yet, and subtracting one it did count undersells by one for a moment, where not
subtracting one it missed oversells. A reservation is per SKU, not per warehouse, so a SKU in
several warehouses has its held units subtracted from each (never oversold, briefly undersold).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from tts_sync.orders.reservations import Reservation, ReservationState
from tts_sync.stock.models import MAX_TIKTOK_QUANTITY, BufferRules


def reserved_after(reservations: Iterable[Reservation], as_of: float) -> int:
    counted_until = math.floor(as_of)
    return sum(
        r.units
        for r in reservations
        if r.state is ReservationState.HELD and r.ordered_at >= counted_until
    )


def listed_quantity(available: int, reserved: int, rules: BufferRules) -> int:
    quantity = max(0, available - reserved - rules.fixed_reserve)
    quantity = quantity * rules.percent_listed // 100
    if rules.max_listed is not None:
        quantity = min(quantity, rules.max_listed)
    return max(0, min(quantity, MAX_TIKTOK_QUANTITY))
