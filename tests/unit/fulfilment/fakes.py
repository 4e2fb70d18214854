"""An in-memory FulfilmentStore (the DynamoDB adapter's contract: conditional claims with a
lease, done keys, refusals per business key), thread-safe. For benchmarks and fast tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tts_sync.fulfilment.models import (
    CarrierMap,
    CarrierOverride,
    CarrierProvider,
    FulfilmentSettings,
    Refusal,
    UploadClaim,
    normalise_carrier,
)
from tts_sync.fulfilment.ports import ClaimResult


class MemoryFulfilmentStore:
    def __init__(self) -> None:
        self.maps: dict[str, CarrierMap] = {}
        self.overrides: dict[tuple[str, str, str], CarrierOverride] = {}
        self.settings_by_shop: dict[str, FulfilmentSettings] = {}
        self.claims: dict[tuple[str, str], UploadClaim] = {}
        self.refused: dict[tuple[str, str], Refusal] = {}
        self._lock = threading.Lock()

    def carrier_map(self, shop_id: str) -> CarrierMap:
        built = self.maps.get(shop_id, CarrierMap(shop_id=shop_id))
        overrides = [o for (shop, _, _), o in self.overrides.items() if shop == shop_id]
        return built.model_copy(update={"overrides": overrides})

    def save_providers(
        self, shop_id: str, providers: Sequence[CarrierProvider], built_at: int
    ) -> None:
        self.maps[shop_id] = CarrierMap(
            shop_id=shop_id, providers=list(providers), built_at=built_at
        )

    def save_override(self, shop_id: str, override: CarrierOverride) -> None:
        key = (shop_id, override.delivery_option_id, normalise_carrier(override.carrier))
        self.overrides[key] = override

    def delete_override(self, shop_id: str, carrier: str, delivery_option_id: str) -> bool:
        key = (shop_id, delivery_option_id, normalise_carrier(carrier))
        return self.overrides.pop(key, None) is not None

    def settings(self, shop_id: str) -> FulfilmentSettings:
        return self.settings_by_shop.get(shop_id, FulfilmentSettings())

    def save_settings(self, shop_id: str, settings: FulfilmentSettings) -> None:
        self.settings_by_shop[shop_id] = settings

    def claim(
        self, shop_id: str, business_key: str, now: float, lease_seconds: float
    ) -> ClaimResult:
        with self._lock:
            held = self.claims.get((shop_id, business_key))
            if held is not None and (held.status == "done" or held.lease_expires_at >= now):
                return ClaimResult("done" if held.status == "done" else "busy", held)
            self.claims[(shop_id, business_key)] = UploadClaim(
                business_key=business_key,
                status="in_progress",
                lease_expires_at=now + lease_seconds,
            )
            return ClaimResult("claimed")

    def finish(self, shop_id: str, business_key: str, outcome: str, package_id: str) -> None:
        with self._lock:
            self.claims[(shop_id, business_key)] = UploadClaim(
                business_key=business_key, status="done", outcome=outcome, package_id=package_id
            )

    def release(self, shop_id: str, business_key: str) -> None:
        with self._lock:
            held = self.claims.get((shop_id, business_key))
            if held is not None and held.status == "in_progress":
                del self.claims[(shop_id, business_key)]

    def record_refusal(self, refusal: Refusal) -> None:
        name = (
            f"{refusal.order_id}#{refusal.tracking_number}"
            if refusal.order_id
            else refusal.message_id
        )
        self.refused[(refusal.shop_id, name)] = refusal

    def refusals(self, shop_id: str) -> list[Refusal]:
        found = [r for (shop, _), r in self.refused.items() if shop == shop_id]
        return sorted(found, key=lambda r: r.refused_at)
