"""The privacy contract: deletion requests (the PrivacyDeletionQueue's message body, committed
as a JSON schema under schemas/privacy/) and the receipt each request gets.

A receipt holds no PII: the request id, scope, shop, requester, times, status, counts of what
was erased per store, and for a refused request the precise reason (field names and pydantic's
message, never the offending value).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    model_validator,
)

from tts_sync.outbound.models import UtcDatetime

Digits = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9]+$")]
RequestId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
MAX_ORDER_IDS = 1000


class DeletionScope(StrEnum):
    BUYER = "buyer"
    SHOP = "shop"


class _Request(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    request_id: RequestId
    shop_id: Digits
    requested_at: AwareDatetime
    requester: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")


class BuyerDeletionRequest(_Request):
    """Erase one buyer of one shop: the orders named, and every order of `buyer_user_id`."""

    scope: Literal["buyer"]
    buyer_user_id: Digits | None = None
    order_ids: list[Digits] = Field(default_factory=list, max_length=MAX_ORDER_IDS)

    @model_validator(mode="after")
    def _names_someone(self) -> BuyerDeletionRequest:
        if self.buyer_user_id is None and not self.order_ids:
            raise ValueError("a buyer request needs buyer_user_id or order_ids (or both)")
        return self


class ShopDeletionRequest(_Request):
    """Erase the PII of every order of the shop and disconnect it (tokens dropped)."""

    scope: Literal["shop"]


DeletionRequest = Annotated[
    BuyerDeletionRequest | ShopDeletionRequest, Field(discriminator="scope")
]


class PrivacyDeletionMessage(RootModel[DeletionRequest]):
    """The PrivacyDeletionQueue message body (schemas/privacy/deletion-request.json)."""


class InvalidDeletionRequestError(ValueError):
    """The body is not a deletion request. `reason` is safe to store: it names fields and
    rules, never the values sent (which may be PII)."""

    def __init__(self, reason: str, request_id: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


def parse_deletion_request(body: str) -> BuyerDeletionRequest | ShopDeletionRequest:
    try:
        document = json.loads(body)
    except ValueError:
        raise InvalidDeletionRequestError("body is not JSON", None) from None
    if not isinstance(document, dict):
        raise InvalidDeletionRequestError("body must be a JSON object", None)
    try:
        return PrivacyDeletionMessage.model_validate(document).root
    except ValidationError as exc:
        raise InvalidDeletionRequestError(
            _reason(exc), _usable_request_id(document.get("request_id"))
        ) from None


def _reason(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        # The tagged union puts the scope first in loc ("buyer", "order_ids", 0): keep it, it
        # says which shape was checked.
        where = ".".join(str(part) for part in error["loc"]) or "body"
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # pydantic's message repeats the value sent; say what is expected instead.
            problems.append("scope: must be one of 'buyer', 'shop'")
            continue
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def _usable_request_id(value: Any) -> str | None:
    try:
        return RootModel[RequestId].model_validate(value).root
    except ValidationError:
        return None


class ReceiptStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"  # not a valid request: `reason` says why; nothing was erased


class DeletionReceipt(BaseModel):
    """What happened to one request. No PII: ids of the request and shop, counts, times."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    request_id: str
    status: ReceiptStatus
    scope: str = ""  # "" when the request was refused before its scope was known
    shop_id: str = ""
    requester: str = ""
    requested_at: UtcDatetime | None = None
    received_at: UtcDatetime
    completed_at: UtcDatetime | None = None
    reason: str = ""
    # Store (template logical id) -> items erased there by this request.
    erased: dict[str, int] = Field(default_factory=dict)
    event_published: bool = False

    @property
    def done(self) -> bool:
        return self.status is not ReceiptStatus.IN_PROGRESS
