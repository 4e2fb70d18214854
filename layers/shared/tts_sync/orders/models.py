"""The order record: one item per TikTok order in its latest known state.

What TikTok said is kept in TikTok's names. Buyer PII lives in ONE attribute, `buyer`
(recipient address, user id, email, message, nickname, avatar, CPF), apart from the financial
facts (amounts, taxes, SKUs, units, dates, statuses) that the privacy erasure must keep. Ids are
strings, money decimal strings, times TikTok's unix seconds.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tts_sync.tiktok.models import Order, OrderLineItem, OrderPayment, RecipientAddress

# Seller-shipped orders still to ship (ON_HOLD cannot ship yet; its hold ends within the hour).
AWAITING_SELLER_SHIPMENT = frozenset({"AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"})
DEFAULT_HANDLING_SECONDS = 72 * 3600


class OrderSource(StrEnum):
    """How the record learned of this state (the webhook is a signal, the API the truth)."""

    WEBHOOK = "webhook"  # Get Order Detail after a webhook
    POLL = "poll"  # the scheduled reconciliation's order search
    BACKFILL = "backfill"  # an operator's backfill


class _Part(BaseModel):
    # Buyer PII inside: a ValidationError must not quote the values it refused.
    model_config = ConfigDict(
        defer_build=True, extra="forbid", frozen=True, hide_input_in_errors=True
    )


class BuyerData(_Part):
    """Everything personal about the buyer; the privacy erasure removes this attribute."""

    user_id: str = ""
    buyer_email: str = ""
    buyer_message: str = ""
    buyer_nickname: str = ""
    buyer_avatar: str = ""
    cpf: str = ""
    cpf_name: str = ""
    recipient_address: RecipientAddress | None = None
    # Set by the privacy erasure (unix seconds): user_id is then a keyed pseudonym, the rest
    # empty, and later reads from TikTok keep it so (tts_sync.privacy).
    erased_at: int | None = None


class OrderDeadlines(_Part):
    """TikTok's SLA and due times (unix seconds; None when TikTok gave none)."""

    rts_sla_time: int | None = None
    tts_sla_time: int | None = None
    shipping_due_time: int | None = None
    collection_due_time: int | None = None
    delivery_due_time: int | None = None
    cancel_order_sla_time: int | None = None


class Cancellation(_Part):
    cancel_reason: str = ""
    cancellation_initiator: str = ""
    is_buyer_request_cancel: bool = False
    request_cancel_time: int | None = None


class UploadedShipment(_Part):
    """A shipment tts-sync uploaded (tts_sync.fulfilment): what TikTok now shows for one
    package. Kept across order syncs (TikTok's reads do not carry it); no buyer data."""

    business_key: str  # order#package-or-lines#tracking: the upload's idempotency key
    package_id: str = ""
    line_item_ids: list[str] = Field(default_factory=list)
    carrier: str
    shipping_provider_id: str
    tracking_number: str
    shipped_at: int  # unix seconds (the back office's)
    uploaded_at: int  # unix seconds (when TikTok confirmed it)
    action: str


class OrderRecord(_Part):
    shop_id: str
    order_id: str
    status: str  # TikTok's name; CANCEL (webhook spelling) is stored as CANCELLED
    update_time: int  # TikTok's status clock
    create_time: int
    paid_time: int | None = None
    is_on_hold_order: bool = False
    shipping_type: str = ""  # SELLER or TIKTOK
    fulfillment_type: str = ""  # FULFILLMENT_BY_SELLER or FULFILLMENT_BY_TIKTOK
    warehouse_id: str = ""
    delivery_option_id: str = ""
    order_type: str = ""
    is_sample_order: bool = False
    is_replacement_order: bool = False
    is_exchange_order: bool = False
    has_updated_recipient_address: bool = False
    split_or_combine_tag: str = ""
    deadlines: OrderDeadlines = Field(default_factory=OrderDeadlines)
    cancellation: Cancellation = Field(default_factory=Cancellation)
    packages: list[str] = Field(default_factory=list)
    line_items: list[OrderLineItem] = Field(default_factory=list)
    payment: OrderPayment = Field(default_factory=OrderPayment)
    # SKUs of lines with no seller SKU: the back office cannot map them (stored, flagged).
    unmapped_skus: list[str] = Field(default_factory=list)
    buyer: BuyerData = Field(default_factory=BuyerData, repr=False)
    # Tracking uploads tts-sync made (not from TikTok's reads: order sync carries them over).
    shipments: list[UploadedShipment] = Field(default_factory=list)
    # Bookkeeping: when we read this state from TikTok (ms, our clock) and how.
    fetched_at_ms: int = 0
    source: OrderSource = OrderSource.WEBHOOK

    @classmethod
    def from_tiktok(
        cls, shop_id: str, order: Order, *, fetched_at_ms: int, source: OrderSource
    ) -> OrderRecord:
        return cls(
            shop_id=shop_id,
            order_id=order.id,
            status=order.status,
            update_time=order.update_time,
            create_time=order.create_time,
            paid_time=order.paid_time,
            is_on_hold_order=order.is_on_hold_order,
            shipping_type=order.shipping_type,
            fulfillment_type=order.fulfillment_type,
            warehouse_id=order.warehouse_id,
            delivery_option_id=order.delivery_option_id,
            order_type=order.order_type,
            is_sample_order=order.is_sample_order,
            is_replacement_order=order.is_replacement_order,
            is_exchange_order=order.is_exchange_order,
            has_updated_recipient_address=order.has_updated_recipient_address,
            split_or_combine_tag=order.split_or_combine_tag,
            deadlines=OrderDeadlines(
                rts_sla_time=order.rts_sla_time,
                tts_sla_time=order.tts_sla_time,
                shipping_due_time=order.shipping_due_time,
                collection_due_time=order.collection_due_time,
                delivery_due_time=order.delivery_due_time,
                cancel_order_sla_time=order.cancel_order_sla_time,
            ),
            cancellation=Cancellation(
                cancel_reason=order.cancel_reason,
                cancellation_initiator=order.cancellation_initiator,
                is_buyer_request_cancel=order.is_buyer_request_cancel,
                request_cancel_time=order.request_cancel_time,
            ),
            packages=[package.id for package in order.packages],
            line_items=list(order.line_items),
            payment=order.payment,
            unmapped_skus=sorted(
                {line.sku_id for line in order.line_items if not line.seller_sku.strip()}
            ),
            buyer=BuyerData(
                user_id=order.user_id,
                buyer_email=order.buyer_email,
                buyer_message=order.buyer_message,
                buyer_nickname=order.buyer_nickname,
                buyer_avatar=order.buyer_avatar,
                cpf=order.cpf,
                cpf_name=order.cpf_name,
                recipient_address=order.recipient_address,
            ),
            fetched_at_ms=fetched_at_ms,
            source=source,
        )

    @property
    def content_hash(self) -> str:
        """What TikTok said, bookkeeping (and our own uploads) left out: equal hashes are the
        same state."""
        facts = self.model_dump(mode="json", exclude={"fetched_at_ms", "source", "shipments"})
        encoded = json.dumps(facts, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()[:32]

    @property
    def is_seller_shipped(self) -> bool:
        return self.shipping_type != "TIKTOK" and self.fulfillment_type != "FULFILLMENT_BY_TIKTOK"

    @property
    def ship_by(self) -> int | None:
        """When a seller-shipped order must be shipped: TikTok's due time, else 72 h after
        payment (TikTok's default handling window); None once shipped or not to be shipped."""
        if not self.is_seller_shipped or self.status not in AWAITING_SELLER_SHIPMENT:
            return None
        given = self.deadlines.shipping_due_time or self.deadlines.rts_sla_time
        if given:
            return given
        paid = self.paid_time or self.create_time
        return paid + DEFAULT_HANDLING_SECONDS


class StoredOrder(_Part):
    """A record as stored: with its optimistic-lock revision and events not yet published
    (event id -> the event, JSON)."""

    record: OrderRecord
    revision: int
    pending_events: dict[str, str] = Field(default_factory=dict)
    pending_since_ms: int | None = None
