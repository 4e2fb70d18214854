"""The audit entry of a tracking upload outcome: keyed by the message, the shipment and the
outcome (deterministic), never the tracking number (not even in TikTok's words), none for a
duplicate."""

from __future__ import annotations

import json

from tts_sync.fulfilment.models import RefusalCode, TrackingUpload, UploadOutcome
from tts_sync.fulfilment.upload import UploadResult, upload_audit_entry

TRACKING = "1Z999AA10123456784"
MESSAGE = TrackingUpload.model_validate(
    {
        "shop_id": "7494049642642441621",
        "order_id": "576653688135258178",
        "carrier": "UPS",
        "tracking_number": TRACKING,
        "shipped_at": "2026-12-01T15:00:00Z",
        "package_id": "1152921504606846976",
    }
)


def test_tiktoks_words_lose_the_tracking_number_and_keys_are_deterministic() -> None:
    refused = UploadResult(
        UploadOutcome.REFUSED,
        RefusalCode.TIKTOK_REFUSED,
        f"TikTok refused ship_package of order 1: tracking {TRACKING} is invalid",
        action="ship_package",
        tiktok_code=21011002,
        provider_id="6617675021119438850",
    )
    entry = upload_audit_entry(MESSAGE, refused, sent_at=1_796_300_000.123, attempted_at=1.0)
    again = upload_audit_entry(MESSAGE, refused, sent_at=1_796_300_000.123, attempted_at=99.0)
    assert entry is not None and again is not None
    assert entry.sort_key == again.sort_key and entry.subject == again.subject
    assert TRACKING not in json.dumps(entry.model_dump()) + entry.sort_key
    assert "<tracking number> is invalid" in entry.reason
    assert entry.detail["code"] == "tiktok_refused" and entry.detail["tiktok_code"] == 21011002
    assert entry.detail["package_id"] == "1152921504606846976"
    # Another outcome of the same message is its own entry; without SentTimestamp the
    # shipment's time keys it (still the same on every delivery).
    uploaded = UploadResult(UploadOutcome.UPLOADED, action="ship_package")
    other = upload_audit_entry(MESSAGE, uploaded, sent_at=1_796_300_000.123, attempted_at=2.0)
    assert other is not None and other.sort_key != entry.sort_key
    fallback = upload_audit_entry(MESSAGE, uploaded, sent_at=None, attempted_at=2.0)
    assert fallback is not None and fallback.at == MESSAGE.shipped_at_epoch


def test_a_duplicate_adds_no_entry() -> None:
    duplicate = UploadResult(UploadOutcome.DUPLICATE, reason="this shipment was uploaded before")
    assert upload_audit_entry(MESSAGE, duplicate, sent_at=1.0, attempted_at=2.0) is None
