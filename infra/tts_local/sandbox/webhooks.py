"""Webhook delivery as TikTok does it: one signed JSON POST per notification.

Duplicates and out-of-order sequences are deliberate options, because TikTok delivers
at-least-once and unordered, and the receiver must cope.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from tts_local.sandbox.signature import webhook_signature
from tts_local.webhook_sender import post_signed

# TikTok's webhook types, from its docs (tiktok-shop-api.md sections 1 and 4), not from the
# product's table: the sandbox says what TikTok would say, so a product typo cannot pass here.
TIKTOK_EVENT_TYPE_NAMES: dict[int, str] = {
    1: "ORDER_STATUS_CHANGE",
    2: "REVERSE_STATUS_UPDATE",
    3: "RECIPIENT_ADDRESS_UPDATE",
    4: "PACKAGE_UPDATE",
    5: "PRODUCT_STATUS_CHANGE",
    6: "SELLER_DEAUTHORIZATION",
    7: "UPCOMING_AUTHORIZATION_EXPIRATION",
    11: "CANCELLATION_STATUS_CHANGE",
    12: "RETURN_STATUS_CHANGE",
    15: "PRODUCT_INFORMATION_CHANGE",
    16: "PRODUCT_CREATION",
    50: "SKU_STATUS_CHANGE",
}
EVENT_TYPE_NUMBERS: dict[str, int] = {
    name: number for number, name in TIKTOK_EVENT_TYPE_NAMES.items()
}
Ordering = Literal["as_given", "reversed", "shuffled"]


@dataclass(frozen=True)
class Notification:
    type: int
    shop_id: str
    data: dict[str, Any]
    tts_notification_id: str = ""
    timestamp: int = 0

    def envelope(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "tts_notification_id": self.tts_notification_id or secrets.token_hex(10),
            "shop_id": self.shop_id,
            "timestamp": self.timestamp or int(time.time()),
            "data": self.data,
        }


@dataclass(frozen=True)
class Delivery:
    tts_notification_id: str
    status: int  # 0 when the receiver could not be reached
    body: str


class WebhookSender:
    def __init__(self, app_key: str, app_secret: str, timeout: float = 3.0) -> None:
        self._app_key = app_key
        self._app_secret = app_secret
        self._timeout = timeout  # TikTok's ack deadline

    def sign(self, body: bytes) -> str:
        return webhook_signature(self._app_key, self._app_secret, body)

    def deliver(
        self,
        url: str,
        notifications: Sequence[Notification],
        *,
        duplicates: int = 0,
        ordering: Ordering = "as_given",
        seed: int = 0,
        bad_signature: bool = False,
    ) -> list[Delivery]:
        """POST each notification (plus `duplicates` extra copies of each), in `ordering`."""
        # Fix ids and timestamps first so duplicates are byte-identical, like TikTok's retries.
        bodies = [json.dumps(n.envelope(), separators=(",", ":")).encode() for n in notifications]
        sequence = [body for body in bodies for _ in range(1 + duplicates)]
        if ordering == "reversed":
            sequence.reverse()
        elif ordering == "shuffled":
            random.Random(seed).shuffle(sequence)  # noqa: S311 - reproducible test order  # nosec B311
        results = []
        with httpx.Client(timeout=self._timeout) as client:
            for body in sequence:
                signature = self.sign(body)
                if bad_signature:
                    signature = signature[::-1]
                notification_id = json.loads(body)["tts_notification_id"]
                try:
                    # The sandbox's own signature goes in as the Authorization header as-is.
                    response = post_signed(
                        url,
                        body,
                        self._app_key,
                        self._app_secret,
                        self._timeout,
                        client=client,
                        authorization=signature,
                    )
                    results.append(Delivery(notification_id, response.status_code, response.text))
                except httpx.HTTPError as exc:
                    results.append(Delivery(notification_id, 0, type(exc).__name__))
        return results
