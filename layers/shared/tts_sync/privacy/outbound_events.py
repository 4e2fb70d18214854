"""The "Privacy Deletion Completed" event a finished (or refused) request publishes."""

from __future__ import annotations

from tts_sync.outbound import OutboundEvent, PrivacyDeletionDetail
from tts_sync.privacy.models import DeletionReceipt, ReceiptStatus


def deletion_completed_event(receipt: DeletionReceipt) -> OutboundEvent:
    return OutboundEvent.privacy_event(
        PrivacyDeletionDetail(
            # One id per request: a republished copy is dropped by the back office.
            event_id=f"privacy-{receipt.request_id}",
            request_id=receipt.request_id,
            status="rejected" if receipt.status is ReceiptStatus.REJECTED else "completed",
            scope=receipt.scope,
            shop_id=receipt.shop_id,
            received_at=receipt.received_at,
            completed_at=receipt.completed_at,
            reason=receipt.reason,
            erased=dict(receipt.erased),
        )
    )
