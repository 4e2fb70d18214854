"""The webhook envelope TikTok Shop posts: `{type, tts_notification_id, shop_id, timestamp, data}`.
Unknown types are valid envelopes: stored with their data as-is, recorded as ignored downstream."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tts_sync.events.catalogue import BY_NUMBER, EventData, IdStr, type_name


class WebhookEnvelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    # Bounded: DynamoDB refuses numbers past 38 digits, and a huge timestamp overflows the age
    # check. Seconds (or milliseconds) up to the year 2286 fit.
    type: int = Field(gt=0, lt=10**9)
    tts_notification_id: IdStr | None = None
    shop_id: IdStr
    timestamp: int = Field(gt=0, lt=10**13)
    data: dict[str, Any]

    @field_validator("type", "timestamp", mode="before")
    @classmethod
    def _reject_bool(cls, value: Any) -> Any:
        # JSON true would otherwise validate as 1.
        if isinstance(value, bool):
            raise ValueError("must be an integer")
        return value

    @property
    def type_name(self) -> str:
        return type_name(self.type)

    @property
    def event_key(self) -> str:
        """Deduplication key: TikTok's notification id, else one derived from the content."""
        if self.tts_notification_id:
            return self.tts_notification_id
        return fallback_event_key(self)

    def typed_data(self) -> EventData | None:
        """`data` as its type's model; None for a type the catalogue does not know. Raises
        pydantic's ValidationError when a known type lacks what it needs."""
        spec = BY_NUMBER.get(self.type)
        return spec.data_model.model_validate(self.data) if spec else None


def _identity_fields(data: dict[str, Any]) -> list[str]:
    """The ids and statuses in `data`: what makes one notification differ from another."""
    ids = [
        f"{key}={data[key]}"
        for key in sorted(data)
        if (key.endswith("_id") or key.endswith("status")) and data[key] not in (None, "")
    ]
    packages = data.get("package_list")
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and package.get("package_id"):
            ids.append(f"package_id={package['package_id']}")
    return ids


def fallback_event_key(envelope: WebhookEnvelope) -> str:
    """Key for deliveries without tts_notification_id: the same notification retried gives the
    same key; a later change of the same order (new update_time) gives a new one."""
    data = envelope.data
    moment = data.get("update_time") or data.get("create_time") or data.get("expiration_time")
    parts: list[Any] = [envelope.type, envelope.shop_id, _identity_fields(data)]
    # Without any time of its own in data, the envelope timestamp tells notifications apart.
    parts.append(moment if moment is not None else f"ts={envelope.timestamp}")
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()
    return f"derived:{digest[:40]}"
