"""The erasure registry: every store template.yaml declares, what PII it can hold, and how a
deletion request reaches it. tests/unit/privacy/test_erasure_registry.py fails when a table or
queue is added to the template, or a field that can hold PII to a record, without an entry
here; the README's store list is this table.

Keys are template logical ids; receipts count erased items under the same names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

EVENTS = "EventsTable"
QUARANTINE = "QuarantineTable"
ORDERS = "OrdersTable"
SHOPS = "ShopsTable"


class Coverage(StrEnum):
    ERASED = "erased"  # a deletion request erases the PII it holds (a receipt step)
    EXPIRES = "expires"  # may hold PII briefly; bounded retention, not addressable per buyer
    NO_PII = "no_pii"  # holds no buyer PII by construction


@dataclass(frozen=True)
class Store:
    coverage: Coverage
    holds: str  # what it keeps, and the PII it can hold
    how: str  # what erasure (or retention) does about it


STORES: dict[str, Store] = {
    ORDERS: Store(
        Coverage.ERASED,
        "order records; buyer PII only in `buyer` (name, address, phone, email, message, "
        "nickname, avatar, CPF, user id) and in unpublished events' shipping address",
        "`buyer` emptied, user id replaced by its keyed pseudonym, `buyer.erased_at` set "
        "(later syncs keep it erased); shipping address dropped from pending events; "
        "amounts, taxes, fees, SKUs, units, dates and statuses kept",
    ),
    EVENTS: Store(
        Coverage.ERASED,
        "stored webhook bodies (`payload`), expire after 30 days",
        "payloads naming the orders (or, shop scope, every payload of the shop) cut down to "
        "envelope and ids",
    ),
    QUARANTINE: Store(
        Coverage.ERASED,
        "signed webhook bodies that could not become work (`raw_body`), expire after 30 days",
        "bodies naming the orders, the buyer id (or, shop scope, the shop) are deleted",
    ),
    SHOPS: Store(
        Coverage.ERASED,
        "connected shops and their tokens (no buyer data)",
        "shop scope: tokens dropped and the shop marked deauthorized (no further calls)",
    ),
    "ReservationsTable": Store(
        Coverage.NO_PII, "units held per shop, SKU and order: ids, counts, times", "kept"
    ),
    "CatalogTable": Store(Coverage.NO_PII, "listing status per product", "kept"),
    "StockTable": Store(
        Coverage.NO_PII,
        "stock levels, values sent and confirmed per SKU and warehouse, refusals, buffer rules",
        "kept",
    ),
    "QuantityExportQueue": Store(
        Coverage.NO_PII, "back-office stock levels (shop, SKU, location, quantity)", "kept"
    ),
    "QuantityExportDeadLetterQueue": Store(
        Coverage.NO_PII,
        "stock levels and reservation stream batches that failed every attempt",
        "14-day retention",
    ),
    "TrackingUploadQueue": Store(
        Coverage.NO_PII,
        "back-office shipments (shop, order, line and package ids, carrier, tracking number)",
        "kept",
    ),
    "TrackingUploadDeadLetterQueue": Store(
        Coverage.NO_PII, "shipments that failed every attempt", "14-day retention"
    ),
    "FulfilmentTable": Store(
        Coverage.NO_PII,
        "carrier maps and overrides, fulfilment settings, upload claims (business keys), "
        "refusals (codes, reasons, carrier, tracking number)",
        "kept; claims expire after 90 days, refusals after 30",
    ),
    "SyncStateTable": Store(
        Coverage.NO_PII, "poll watermarks, orders TikTok left out (ids, counts)", "kept"
    ),
    "AuditTable": Store(
        Coverage.NO_PII,
        "per-order audit trail: ids (shop, order, notification, event, package), statuses, "
        "SKUs, warehouses, counts and reasons; the builders in tts_sync.audit.trail take no "
        "buyer field (tests/unit/audit asserts no seeded buyer value ever appears)",
        "kept until its TTL (AuditRetentionDays, 90 days by default)",
    ),
    "RateLimitTable": Store(Coverage.NO_PII, "token buckets per shop", "kept"),
    "OAuthStateTable": Store(Coverage.NO_PII, "single-use OAuth states (10 minutes)", "kept"),
    "PrivacyRequestsTable": Store(
        Coverage.NO_PII,
        "deletion receipts: request and shop ids, counts, times, reasons (never values)",
        "kept as the proof of erasure",
    ),
    "OutboundEventsQueue": Store(
        Coverage.EXPIRES,
        "domain events for the back office; Ready To Ship / Address Changed carry the "
        "shipping address",
        "14-day retention; the back office owns what it read: the Privacy Deletion Completed "
        "event tells it to erase its copy",
    ),
    "OutboundEventsDeadLetterQueue": Store(
        Coverage.EXPIRES, "outbound events not consumed or not delivered", "14-day retention"
    ),
    "EventsStreamDeadLetterQueue": Store(
        Coverage.NO_PII, "descriptions of failed stream batches (shard, sequence numbers)", "kept"
    ),
    "PrivacyDeletionQueue": Store(
        Coverage.EXPIRES,
        "deletion requests (buyer id, order ids) until processed",
        "deleted once processed; 4-day retention",
    ),
    "PrivacyDeletionDeadLetterQueue": Store(
        Coverage.EXPIRES,
        "deletion requests that failed every attempt",
        "14-day retention; PrivacyDeletionOverdueAlarm and the DLQ alarm page an operator",
    ),
}

# Fields of the order record: PII (erased) or facts kept. A new field must be put in one.
ORDER_PII_FIELDS = frozenset({"buyer"})
ORDER_KEPT_FIELDS = frozenset(
    {
        "shop_id",
        "order_id",
        "status",
        "update_time",
        "create_time",
        "paid_time",
        "is_on_hold_order",
        "shipping_type",
        "fulfillment_type",
        "warehouse_id",
        "delivery_option_id",
        "order_type",
        "is_sample_order",
        "is_replacement_order",
        "is_exchange_order",
        "has_updated_recipient_address",
        "split_or_combine_tag",
        "deadlines",
        "cancellation",
        "packages",
        "line_items",
        "payment",
        "unmapped_skus",
        "shipments",
        "fetched_at_ms",
        "source",
    }
)
# What an erased `buyer` keeps: the pseudonym and when it was erased.
BUYER_KEPT_AFTER_ERASURE = frozenset({"user_id", "erased_at"})
# Attributes of a stored webhook (Events item): `payload` is the only one that can hold PII.
EVENT_ITEM_PII_ATTRIBUTES = frozenset({"payload"})
EVENT_ITEM_KEPT_ATTRIBUTES = frozenset(
    {
        "pk",
        "event_type",
        "event_type_name",
        "shop_id",
        "event_timestamp",
        "received_at",
        "expires_at",
        "notification_id",
        "erased_at",
    }
)
