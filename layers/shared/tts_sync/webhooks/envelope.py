"""The webhook envelope TikTok Shop posts, typed per event type, and its deduplication key.

Ids are strings even when a sample shows a bare number. Unknown event types are valid: they are
stored with their data as-is and downstream decides what to do with them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator


def _id_as_string(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


IdStr = Annotated[str, BeforeValidator(_id_as_string), Field(min_length=1)]

EVENT_TYPE_NAMES: dict[int, str] = {
    1: "ORDER_STATUS_CHANGE",
    2: "REVERSE_STATUS_UPDATE",
    3: "RECIPIENT_ADDRESS_UPDATE",
    4: "PACKAGE_UPDATE",
    5: "PRODUCT_STATUS_CHANGE",
    6: "SELLER_DEAUTHORIZATION",
    7: "UPCOMING_AUTHORIZATION_EXPIRATION",
    11: "CANCELLATION_STATUS_CHANGE",
    12: "RETURN_STATUS_CHANGE",
}


class _EventData(BaseModel):
    """Only what downstream cannot work without is required (the ids it re-fetches by): a field
    TikTok drops or renames must not send a whole event type to quarantine. Extra fields are
    kept: TikTok adds fields without notice, and the raw payload is stored anyway."""

    model_config = ConfigDict(extra="allow")


class OrderStatusChange(_EventData):
    order_id: IdStr
    order_status: str | None = None
    is_on_hold_order: bool = False
    update_time: int | None = None


class ReverseStatusUpdate(_EventData):
    order_id: IdStr
    reverse_order_id: IdStr | None = None
    update_time: int | None = None


class RecipientAddressUpdate(_EventData):
    order_id: IdStr
    update_time: int | None = None


class PackageRef(_EventData):
    package_id: IdStr
    order_id_list: list[IdStr] = Field(default_factory=list)


class PackageUpdate(_EventData):
    sc_type: str | None = None
    package_list: list[PackageRef] = Field(default_factory=list)
    update_time: int | None = None


class ProductStatusChange(_EventData):
    product_id: IdStr
    status: str | None = None
    update_time: int | None = None


class SellerDeauthorization(_EventData):
    message: str | None = None


class UpcomingAuthorizationExpiration(_EventData):
    message: str | None = None
    expiration_time: Annotated[str | None, BeforeValidator(_id_as_string)] = None


class CancellationStatusChange(_EventData):
    order_id: IdStr
    cancel_id: IdStr | None = None
    cancel_status: str | None = None
    create_time: int | None = None


class ReturnStatusChange(_EventData):
    order_id: IdStr
    return_id: IdStr | None = None
    return_status: str | None = None
    update_time: int | None = None


DATA_MODELS: dict[int, type[_EventData]] = {
    1: OrderStatusChange,
    2: ReverseStatusUpdate,
    3: RecipientAddressUpdate,
    4: PackageUpdate,
    5: ProductStatusChange,
    6: SellerDeauthorization,
    7: UpcomingAuthorizationExpiration,
    11: CancellationStatusChange,
    12: ReturnStatusChange,
}


class WebhookEnvelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: int
    tts_notification_id: IdStr | None = None
    shop_id: IdStr
    timestamp: int = Field(gt=0)
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
        return EVENT_TYPE_NAMES.get(self.type, f"UNKNOWN_{self.type}")

    @property
    def event_key(self) -> str:
        """Deduplication key: TikTok's notification id, else one derived from the content."""
        if self.tts_notification_id:
            return self.tts_notification_id
        return fallback_event_key(self)


class InvalidPayloadError(ValueError):
    """The body is not a webhook envelope we can store as work; `reason` says why (no body data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_envelope(body: bytes) -> WebhookEnvelope:
    try:
        # UTF-8 only (RFC 8259); json.loads on bytes would also guess UTF-16/32.
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidPayloadError(f"body is not JSON: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise InvalidPayloadError("body is not a JSON object")
    try:
        envelope = WebhookEnvelope.model_validate(document)
        data_model = DATA_MODELS.get(envelope.type)
        if data_model is not None:
            data_model.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidPayloadError(_describe(exc)) from None
    return envelope


def _describe(exc: ValidationError) -> str:
    # Field paths and messages only: input values may hold buyer data and never reach a log.
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    ]
    return "schema invalid: " + "; ".join(problems[:5])


def _identity_fields(data: dict[str, Any]) -> list[str]:
    """The ids and statuses in `data`: what makes one notification differ from another."""
    ids = [
        f"{key}={data[key]}"
        for key in sorted(data)
        if (key.endswith("_id") or key.endswith("status")) and data[key] not in (None, "")
    ]
    for package in data.get("package_list") or []:
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
