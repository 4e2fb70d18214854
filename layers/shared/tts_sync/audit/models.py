"""An audit entry: what happened to an order (or to a SKU of it), when, and why.

No buyer PII by construction: `detail` holds only scalars, and the builders in
tts_sync.audit.trail put ids, statuses, SKUs, warehouses and counts in it, never names,
addresses, phones, emails or messages (tests/unit/audit asserts it on a seeded buyer).

Keys are deterministic (the same happening always makes the same key), so a redelivery or a
replay overwrites an entry instead of adding one:

    subject  `order#<order_id>`  (TikTok order ids are global)  or  `sku#<shop_id>#<sku_id>`
    sk       `<ISO time, ms, UTC>#<kind rank, 2 digits>#<kind>#<ref>`

`ref` is the happening's own id (notification id, revision, event id, warehouse).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool | None


class AuditKind(StrEnum):
    WEBHOOK_RECEIVED = "webhook_received"
    HYDRATION = "hydration"
    STATE_CHANGE = "state_change"
    RESERVATION_CHANGE = "reservation_change"
    OUTBOUND_EVENT = "outbound_event"
    STOCK_EXPORT = "stock_export"
    # Written by the tracking upload (tts_sync.fulfilment.upload.upload_audit_entry).
    TRACKING_UPLOAD = "tracking_upload"


# Within one millisecond, the order things happen in.
KIND_RANK: dict[AuditKind, int] = {kind: rank for rank, kind in enumerate(AuditKind, start=1)}


def order_subject(order_id: str) -> str:
    return f"order#{order_id}"


def sku_subject(shop_id: str, sku_id: str) -> str:
    return f"sku#{shop_id}#{sku_id}"


def iso_ms(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditEntry(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    subject: str  # order#<order_id> or sku#<shop_id>#<sku_id>
    kind: AuditKind
    at: float  # unix seconds (ms precision): when it happened
    ref: str  # the happening's own id: what makes the key deterministic
    shop_id: str
    order_id: str = ""  # empty on SKU entries (stock exports)
    reason: str = ""  # why, in words: outcomes, codes, changed parts; never values of PII
    detail: dict[str, Scalar] = Field(default_factory=dict)

    @property
    def sort_key(self) -> str:
        return f"{iso_ms(self.at)}#{KIND_RANK[self.kind]:02d}#{self.kind.value}#{self.ref}"

    @property
    def time(self) -> str:
        return iso_ms(self.at)

    def as_view(self) -> dict[str, object]:
        """What ops commands print and console events return."""
        return {
            "time": self.time,
            "kind": self.kind.value,
            "shop_id": self.shop_id,
            **({"order_id": self.order_id} if self.order_id else {}),
            "reason": self.reason,
            "detail": dict(self.detail),
        }
