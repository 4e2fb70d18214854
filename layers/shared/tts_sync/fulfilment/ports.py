"""Ports of tracking uploads. Adapters: fulfilment/dynamo_store.py (FulfilmentTable: carrier
map, overrides, settings, upload claims, refusals), the order store (OrdersTable), the shop
store, the TikTok client (orders, logistics, fulfilment calls)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tts_sync.fulfilment.models import (
    CarrierMap,
    CarrierOverride,
    CarrierProvider,
    FulfilmentSettings,
    Refusal,
    UploadClaim,
)
from tts_sync.tiktok import Deadline, ShopAccess
from tts_sync.tiktok.models import (
    DeliveryOption,
    MalformedOrder,
    Order,
    PackageDetail,
    ShippedPackage,
    ShippingProvider,
    Warehouse,
)


class CarrierStore(Protocol):
    def carrier_map(self, shop_id: str) -> CarrierMap:
        """The shop's providers and overrides (empty when never built), in one query."""
        ...

    def save_providers(
        self, shop_id: str, providers: Sequence[CarrierProvider], built_at: int
    ) -> None: ...

    def save_override(self, shop_id: str, override: CarrierOverride) -> None: ...

    def delete_override(self, shop_id: str, carrier: str, delivery_option_id: str) -> bool: ...

    def settings(self, shop_id: str) -> FulfilmentSettings: ...

    def save_settings(self, shop_id: str, settings: FulfilmentSettings) -> None: ...


@dataclass(frozen=True)
class ClaimResult:
    """`claimed`: ours until the lease ends; `done`: finished before; `busy`: another
    delivery holds a live lease."""

    status: str
    claim: UploadClaim | None = None


class UploadLedger(Protocol):
    def claim(
        self, shop_id: str, business_key: str, now: float, lease_seconds: float
    ) -> ClaimResult:
        """Take the business key (conditional write): free, or a lease that has run out."""
        ...

    def finish(self, shop_id: str, business_key: str, outcome: str, package_id: str) -> None:
        """Done for good: later deliveries of the key are duplicates."""
        ...

    def release(self, shop_id: str, business_key: str) -> None:
        """Give the key back (a retry): the next delivery claims it at once."""
        ...

    def record_refusal(self, refusal: Refusal) -> None: ...

    def refusals(self, shop_id: str) -> list[Refusal]: ...


class FulfilmentStore(CarrierStore, UploadLedger, Protocol):
    """FulfilmentTable: one store for both."""


class LogisticsApi(Protocol):
    def get_warehouses(
        self, shop: ShopAccess, *, deadline: Deadline | None = None
    ) -> list[Warehouse]: ...

    def get_delivery_options(
        self, shop: ShopAccess, warehouse_id: str, *, deadline: Deadline | None = None
    ) -> list[DeliveryOption]: ...

    def get_shipping_providers(
        self, shop: ShopAccess, delivery_option_id: str, *, deadline: Deadline | None = None
    ) -> list[ShippingProvider]: ...


class FulfilmentApi(LogisticsApi, Protocol):
    def get_order_detail(
        self,
        shop: ShopAccess,
        order_ids: Sequence[str],
        *,
        deadline: Deadline | None = None,
        malformed: list[MalformedOrder] | None = None,
    ) -> list[Order]: ...

    def mark_shipped(
        self,
        shop: ShopAccess,
        order_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        order_line_item_ids: Sequence[str] = (),
        *,
        deadline: Deadline | None = None,
    ) -> ShippedPackage: ...

    def ship_package(
        self,
        shop: ShopAccess,
        package_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        *,
        deadline: Deadline | None = None,
    ) -> None: ...

    def update_shipping_info(
        self,
        shop: ShopAccess,
        package_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        *,
        deadline: Deadline | None = None,
    ) -> None: ...

    def get_package_detail(
        self, shop: ShopAccess, package_id: str, *, deadline: Deadline | None = None
    ) -> PackageDetail: ...


@dataclass(frozen=True)
class ShopTarget:
    """A connected shop's API access and its market (which fulfilment call TikTok offers)."""

    access: ShopAccess
    region: str


class ShopDirectory(Protocol):
    def target(self, shop_id: str) -> ShopTarget | None:
        """None when the shop is unknown or not connected."""
        ...
