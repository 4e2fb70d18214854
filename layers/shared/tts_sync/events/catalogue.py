"""The webhook types TikTok Shop sends: number, name, the model of `data`, and which domain
handles them. The one table of event types: the intake, the subscriptions, the Events stream
router and the token lifecycle all read it (tiktok-shop-api.md section 1)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


def _id_as_string(value: Any) -> Any:
    # Webhook samples carry 18-19 digit ids as JSON numbers: past 2**53, so never via float.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# DynamoDB refuses keys over 2,048 bytes; TikTok's ids are 19 digits. Far below the limit, so
# an id is a key anywhere (sort keys and composite keys included).
MAX_ID_BYTES = 512


def _well_formed_id(value: str) -> str:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800") is valid JSON but no UTF-8 string DynamoDB stores.
        raise ValueError("is not valid Unicode text (lone surrogate)") from None
    if size > MAX_ID_BYTES:
        raise ValueError(f"is {size} bytes long; an id is at most {MAX_ID_BYTES}")
    return value


IdStr = Annotated[
    str, BeforeValidator(_id_as_string), Field(min_length=1), AfterValidator(_well_formed_id)
]


class EventData(BaseModel):
    """Only what downstream cannot work without is required (the ids it re-fetches by): a field
    TikTok drops or renames must not send a whole event type to quarantine. Extra fields are
    kept: TikTok adds fields without notice, and the raw payload is stored anyway.

    Each type's validator is built when that type is first validated, not at import: a cold
    container sees one type first, not all ten (part of the webhook's cold start)."""

    model_config = ConfigDict(extra="allow", defer_build=True)


class OrderStatusChange(EventData):
    order_id: IdStr
    order_status: str | None = None
    is_on_hold_order: bool = False
    update_time: int | None = None


class ReverseStatusUpdate(EventData):
    order_id: IdStr
    reverse_order_id: IdStr | None = None
    update_time: int | None = None


class RecipientAddressUpdate(EventData):
    order_id: IdStr
    update_time: int | None = None


class PackageRef(EventData):
    package_id: IdStr
    order_id_list: list[IdStr] = Field(default_factory=list)


class PackageUpdate(EventData):
    sc_type: str | None = None
    package_list: list[PackageRef] = Field(default_factory=list)
    update_time: int | None = None


def order_ids_named(data: EventData | None) -> list[str]:
    """The orders an event's data names: its order_id, or every order of a package update."""
    if isinstance(data, PackageUpdate):
        return [order_id for package in data.package_list for order_id in package.order_id_list]
    order_id = getattr(data, "order_id", None)
    return [order_id] if order_id else []


class ProductStatusChange(EventData):
    product_id: IdStr
    status: str | None = None
    suspended_reason: str | None = None
    update_time: int | None = None


class ProductInformationChange(EventData):
    """Title, description, images or attributes changed online (type 15); SKUs may have been
    added or removed: the product is re-read."""

    product_id: IdStr
    update_time: int | None = None


class ProductCreation(EventData):
    product_id: IdStr
    update_time: int | None = None


class SkuStatusChange(EventData):
    """Type 50 (payload unconfirmed: the product is re-read, whatever the SKU fields say)."""

    product_id: IdStr
    sku_id: IdStr | None = None
    update_time: int | None = None


def product_ids_named(data: EventData | None) -> list[str]:
    """The product a catalog event names (the Events stream consumer refreshes it)."""
    product_id = getattr(data, "product_id", None)
    return [product_id] if product_id else []


class SellerDeauthorization(EventData):
    message: str | None = None


class UpcomingAuthorizationExpiration(EventData):
    message: str | None = None
    # TikTok sends a string unix timestamp; kept as received (the shop lifecycle reads it).
    expiration_time: Annotated[Any, BeforeValidator(_id_as_string)] = None


class CancellationStatusChange(EventData):
    order_id: IdStr
    cancel_id: IdStr | None = None
    cancel_status: str | None = None
    create_time: int | None = None


class ReturnStatusChange(EventData):
    order_id: IdStr
    return_id: IdStr | None = None
    return_status: str | None = None
    update_time: int | None = None


class Domain(StrEnum):
    """Which handler of the Events stream consumer a type goes to."""

    ORDERS = "orders"
    CATALOG = "catalog"
    SHOPS = "shops"


@dataclass(frozen=True)
class EventType:
    number: int
    name: str
    data_model: type[EventData]
    domain: Domain
    # Subscribed per shop through the Event API at onboarding. REVERSE_STATUS_UPDATE is the
    # legacy after-sale type: CANCELLATION/RETURN_STATUS_CHANGE replace it, so it is not asked
    # for, but handled if an app-level subscription still sends it.
    subscribed: bool = True


EVENT_TYPES: tuple[EventType, ...] = (
    EventType(1, "ORDER_STATUS_CHANGE", OrderStatusChange, Domain.ORDERS),
    EventType(2, "REVERSE_STATUS_UPDATE", ReverseStatusUpdate, Domain.ORDERS, subscribed=False),
    EventType(3, "RECIPIENT_ADDRESS_UPDATE", RecipientAddressUpdate, Domain.ORDERS),
    EventType(4, "PACKAGE_UPDATE", PackageUpdate, Domain.ORDERS),
    EventType(5, "PRODUCT_STATUS_CHANGE", ProductStatusChange, Domain.CATALOG),
    EventType(6, "SELLER_DEAUTHORIZATION", SellerDeauthorization, Domain.SHOPS),
    EventType(
        7, "UPCOMING_AUTHORIZATION_EXPIRATION", UpcomingAuthorizationExpiration, Domain.SHOPS
    ),
    EventType(11, "CANCELLATION_STATUS_CHANGE", CancellationStatusChange, Domain.ORDERS),
    EventType(12, "RETURN_STATUS_CHANGE", ReturnStatusChange, Domain.ORDERS),
    EventType(15, "PRODUCT_INFORMATION_CHANGE", ProductInformationChange, Domain.CATALOG),
    EventType(16, "PRODUCT_CREATION", ProductCreation, Domain.CATALOG),
    # Not every region's Event API offers it: handled when the app subscribes to it (Partner
    # Center), not asked for per shop (a refused subscription would be retried hourly).
    EventType(50, "SKU_STATUS_CHANGE", SkuStatusChange, Domain.CATALOG, subscribed=False),
)
BY_NUMBER: dict[int, EventType] = {spec.number: spec for spec in EVENT_TYPES}
BY_NAME: dict[str, EventType] = {spec.name: spec for spec in EVENT_TYPES}

ORDER_STATUS_CHANGE = BY_NAME["ORDER_STATUS_CHANGE"].number
PRODUCT_STATUS_CHANGE = BY_NAME["PRODUCT_STATUS_CHANGE"].number
SELLER_DEAUTHORIZATION = BY_NAME["SELLER_DEAUTHORIZATION"].number
UPCOMING_AUTHORIZATION_EXPIRATION = BY_NAME["UPCOMING_AUTHORIZATION_EXPIRATION"].number

# What onboarding subscribes each shop to, by the Event API's names.
SUBSCRIBED_EVENT_TYPES: tuple[str, ...] = tuple(s.name for s in EVENT_TYPES if s.subscribed)


def type_name(number: int) -> str:
    spec = BY_NUMBER.get(number)
    return spec.name if spec else f"UNKNOWN_{number}"
