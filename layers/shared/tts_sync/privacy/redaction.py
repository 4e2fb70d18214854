"""Pure functions that turn a PII-holding item into its erased form. Each is idempotent: the
erased form of an erased item is itself, so a resumed or duplicated run changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from typing import Any

from tts_sync.orders.models import BuyerData, StoredOrder
from tts_sync.outbound import OrderEventDetail, OutboundEvent

PSEUDONYM_PREFIX = "psn_"
# Envelope fields a stored webhook keeps after erasure (ids and times, no buyer data), and the
# data fields that are ids (so the erased payload still names its orders and packages).
_KEPT_ENVELOPE = ("type", "tts_notification_id", "shop_id", "timestamp")
_KEPT_DATA = re.compile(r"(^|_)(id|id_list|type|status|time|sc_type|role_type)$")


def pseudonym(key: bytes, buyer_user_id: str) -> str:
    """A keyed, stable stand-in for a buyer id: per-buyer counts still add up, and without
    the key nobody can tell whose it is (HMAC-SHA256, 128 bits)."""
    if not buyer_user_id or buyer_user_id.startswith(PSEUDONYM_PREFIX):
        return buyer_user_id
    digest = hmac.new(key, buyer_user_id.encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:32]


def erase_order(stored: StoredOrder, key: bytes, erased_at: int) -> StoredOrder | None:
    """The order with its buyer data erased (buyer id pseudonymised) and no shipping address
    in its unpublished events; None when already so. Financial facts are untouched."""
    buyer = stored.record.buyer
    pending = {event_id: _without_address(body) for event_id, body in stored.pending_events.items()}
    if buyer.erased_at is not None and pending == stored.pending_events:
        return None
    erased_buyer = BuyerData(
        user_id=pseudonym(key, buyer.user_id),
        erased_at=buyer.erased_at if buyer.erased_at is not None else erased_at,
    )
    return StoredOrder(
        record=stored.record.model_copy(update={"buyer": erased_buyer}),
        revision=stored.revision + 1,
        pending_events=pending,
        pending_since_ms=stored.pending_since_ms,
    )


def _without_address(body: str) -> str:
    event = OutboundEvent.model_validate_json(body)
    detail = event.detail
    if not isinstance(detail, OrderEventDetail) or detail.shipping_address is None:
        return body
    erased = event.model_copy(
        update={"detail": detail.model_copy(update={"shipping_address": None})}
    )
    return erased.model_dump_json()


def mentions(text: str, needles: Iterable[str]) -> bool:
    """Whether `text` holds one of the ids as a whole number (1234 is not in 912345)."""
    return any(re.search(rf"(?<![0-9]){re.escape(n)}(?![0-9])", text) for n in needles if n)


def erased_webhook_payload(payload: str) -> str:
    """A stored webhook body reduced to its envelope and ids: which orders it named survives
    (so the erasure can be proven and repeated), nothing personal does."""
    try:
        document = json.loads(payload)
    except ValueError:
        return json.dumps({"erased": True})
    if not isinstance(document, dict):
        return json.dumps({"erased": True})
    kept: dict[str, Any] = {k: document[k] for k in _KEPT_ENVELOPE if k in document}
    data = document.get("data")
    if isinstance(data, dict):
        kept["data"] = {k: _ids_only(v) for k, v in data.items() if _KEPT_DATA.search(k)}
        if "package_list" in data:
            kept["data"]["package_list"] = _ids_only(data["package_list"])
    kept["erased"] = True
    return json.dumps(kept, sort_keys=True, separators=(",", ":"))


def _ids_only(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _ids_only(v) for k, v in value.items() if _KEPT_DATA.search(k)}
    if isinstance(value, list):
        return [_ids_only(v) for v in value]
    return value
