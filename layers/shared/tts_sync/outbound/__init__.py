"""Outbound domain events: what tts-sync tells the back office through its EventBridge bus.

`models` is the versioned contract (committed as JSON schemas by `schemas`, `tts-sync schemas
write`), `ports` the EventPublisher the domain code calls, `eventbridge` its PutEvents adapter.
"""

from tts_sync.outbound.eventbridge import EventBridgePublisher
from tts_sync.outbound.models import (
    ADDRESS_EVENT_TYPES,
    DETAIL_VERSION,
    EVENT_SOURCE_CATALOG,
    EVENT_SOURCE_ORDERS,
    EVENT_SOURCE_PRIVACY,
    LISTING_STATUS_CHANGED,
    PRIVACY_DELETION_COMPLETED,
    BundleComponent,
    ListingEventDetail,
    OrderEventDetail,
    OrderEventType,
    OrderSnapshot,
    OutboundEvent,
    OutboundLine,
    OutboundPayment,
    OutboundShipment,
    PrivacyDeletionDetail,
    ShippingAddress,
)
from tts_sync.outbound.ports import EventPublisher, OutboundPublishError

__all__ = [
    "ADDRESS_EVENT_TYPES",
    "DETAIL_VERSION",
    "EVENT_SOURCE_CATALOG",
    "EVENT_SOURCE_ORDERS",
    "EVENT_SOURCE_PRIVACY",
    "LISTING_STATUS_CHANGED",
    "PRIVACY_DELETION_COMPLETED",
    "BundleComponent",
    "EventBridgePublisher",
    "EventPublisher",
    "ListingEventDetail",
    "OrderEventDetail",
    "OrderEventType",
    "OrderSnapshot",
    "OutboundEvent",
    "OutboundLine",
    "OutboundPayment",
    "OutboundPublishError",
    "OutboundShipment",
    "PrivacyDeletionDetail",
    "ShippingAddress",
]
