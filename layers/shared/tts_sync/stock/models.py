"""The quantity export contract (QuantityExportQueue message bodies) and the export's own
records. The message schema is committed under schemas/inbound/ (tts-sync schemas write|check).

A body is one level, or {"levels": [...]} with up to MAX_LEVELS_PER_MESSAGE of them:

    {"shop_id": "7495540735365777507", "seller_sku": "TSHIRT-RED-M", "location_id": "WH-EAST",
     "available": 42, "as_of": "2026-12-01T10:00:00Z"}

The SKU is named by `seller_sku` or by TikTok's `product_id` + `sku_id`; the location by the
back office's `location_id` (mapped per shop) or by TikTok's `warehouse_id`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

MAX_LEVELS_PER_MESSAGE = 100
MAX_TIKTOK_QUANTITY = 99_999


def _id_text(value: Any) -> Any:
    # Ids are strings; a back office may send a bare JSON number (parsed exactly by `json`).
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


TikTokId = Annotated[
    str, BeforeValidator(_id_text), Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")
]
BackOfficeCode = Annotated[str, Field(min_length=1, max_length=128)]

_ONE_SKU_AND_ONE_LOCATION: dict[str, Any] = {
    "allOf": [
        {
            "oneOf": [
                {"required": ["seller_sku"], "not": {"required": ["sku_id"]}},
                {"required": ["product_id", "sku_id"], "not": {"required": ["seller_sku"]}},
            ]
        },
        {
            "oneOf": [
                {"required": ["location_id"], "not": {"required": ["warehouse_id"]}},
                {"required": ["warehouse_id"], "not": {"required": ["location_id"]}},
            ]
        },
    ]
}


class StockLevel(BaseModel):
    """What the back office can sell of one SKU from one location, counted at `as_of`."""

    model_config = ConfigDict(
        defer_build=True, extra="forbid", frozen=True, json_schema_extra=_ONE_SKU_AND_ONE_LOCATION
    )

    shop_id: TikTokId
    seller_sku: BackOfficeCode | None = None
    product_id: TikTokId | None = None
    sku_id: TikTokId | None = None
    location_id: BackOfficeCode | None = None
    warehouse_id: TikTokId | None = None
    available: StrictInt = Field(ge=0, description="units the back office can sell there")
    as_of: AwareDatetime = Field(description="when the back office counted (with a zone)")

    @model_validator(mode="after")
    def _one_sku_and_one_location(self) -> StockLevel:
        if self.seller_sku is not None:
            if self.sku_id is not None or self.product_id is not None:
                raise ValueError("name the SKU by seller_sku or by product_id + sku_id, not both")
        elif self.sku_id is None or self.product_id is None:
            raise ValueError("the SKU needs seller_sku, or product_id and sku_id")
        if (self.location_id is None) == (self.warehouse_id is None):
            raise ValueError("name the location by exactly one of location_id or warehouse_id")
        return self

    @property
    def as_of_epoch(self) -> float:
        return self.as_of.timestamp()

    @property
    def sku_ref(self) -> str:
        return self.seller_sku if self.seller_sku is not None else f"sku_id {self.sku_id}"

    @property
    def location_ref(self) -> str:
        return (
            self.location_id if self.location_id is not None else f"warehouse {self.warehouse_id}"
        )


class StockLevelList(BaseModel):
    """Many levels in one SQS message."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    levels: list[StockLevel] = Field(min_length=1, max_length=MAX_LEVELS_PER_MESSAGE)


QuantityExportMessage = StockLevel | StockLevelList


class BufferRules(BaseModel):
    """A shop's listing rules, applied after reservations: list `percent_listed`% of what is
    left after `fixed_reserve` units, at most `max_listed` (None: no cap), floored."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    percent_listed: int = Field(default=100, ge=0, le=100)
    fixed_reserve: int = Field(default=0, ge=0)
    max_listed: int | None = Field(default=None, ge=0)


class ExportOutcome(StrEnum):
    EXPORTED = "exported"  # TikTok confirmed the value
    UNCHANGED = "unchanged"  # equal to what TikTok last confirmed: no call
    SUPERSEDED = "superseded"  # a newer as_of for the same SKU and warehouse exists
    REFUSED = "refused"  # permanent: recorded with the reason, not retried
    RETRY = "retry"  # transient: back to the queue (the DLQ after the receive limit)


# A message's outcome is its worst level's: any RETRY makes the whole message come back.
OUTCOME_RANK = {
    ExportOutcome.EXPORTED: 0,
    ExportOutcome.UNCHANGED: 0,
    ExportOutcome.SUPERSEDED: 0,
    ExportOutcome.REFUSED: 1,
    ExportOutcome.RETRY: 2,
}


class SkuWarehouseStock(BaseModel):
    """The ledger of one (shop, SKU, warehouse): the newest level received, and what was sent
    to and confirmed by TikTok, with why (available, reserved, buffered)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    shop_id: str
    sku_id: str
    warehouse_id: str
    product_id: str = ""
    seller_sku: str = ""
    location_id: str = ""
    level_available: int | None = None
    level_as_of: float | None = None  # unix seconds
    level_message_id: str = ""
    sent_value: int | None = None
    sent_at: float | None = None
    confirmed_value: int | None = None
    confirmed_at: float | None = None
    confirmed_as_of: float | None = None
    reserved_units: int = 0
    last_error: str = ""


class Refusal(BaseModel):
    """A message or level that will never be exported, and exactly why."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    shop_id: str = ""  # empty when the message was unreadable
    message_id: str
    reason: str
    sku_ref: str = ""
    location_ref: str = ""
    code: int | None = None  # TikTok's, when it refused
    body_excerpt: str = ""
    refused_at: datetime
