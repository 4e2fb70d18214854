"""The carrier mapping: a back-office carrier name -> TikTok's shipping provider id, per shop.

TikTok lists shipping providers per delivery option and delivery options per warehouse, and a
provider's id can differ between delivery options: the map keeps (delivery option, provider)
pairs, built from warehouses -> delivery options -> shipping providers. Names match ignoring
case, spaces and punctuation ("U.P.S." is "ups"); an override maps a name TikTok's do not
match (per delivery option, or for all). An unknown carrier is refused naming the carrier and
the providers TikTok would accept.
"""

from __future__ import annotations

from collections.abc import Callable

from tts_sync.errors import TtsSyncError
from tts_sync.fulfilment.models import (
    CarrierMap,
    CarrierOverride,
    CarrierProvider,
    normalise_carrier,
)
from tts_sync.fulfilment.ports import CarrierStore, LogisticsApi
from tts_sync.tiktok import Deadline, ShopAccess

SALES_WAREHOUSE = "SALES_WAREHOUSE"


class UnknownCarrierError(TtsSyncError):
    """No provider of the order's delivery option answers to the carrier name."""

    def __init__(self, message: str, accepted: list[str]) -> None:
        super().__init__(message)
        self.accepted = accepted


class CarrierOverrideRefusedError(TtsSyncError):
    """The override was not stored; the message says why."""


def build_carrier_map(
    access: ShopAccess,
    api: LogisticsApi,
    store: CarrierStore,
    clock: Callable[[], float],
    deadline: Deadline,
) -> CarrierMap:
    """Read every sales warehouse's delivery options and their providers; store the pairs."""
    options: dict[str, str] = {}
    for warehouse in api.get_warehouses(access, deadline=deadline):
        if warehouse.type and warehouse.type != SALES_WAREHOUSE:
            continue
        for option in api.get_delivery_options(access, warehouse.id, deadline=deadline):
            options.setdefault(option.id, option.name)
    providers = [
        CarrierProvider(
            delivery_option_id=option_id,
            delivery_option_name=option_name,
            shipping_provider_id=provider.id,
            name=provider.name,
        )
        for option_id, option_name in sorted(options.items())
        for provider in api.get_shipping_providers(access, option_id, deadline=deadline)
    ]
    store.save_providers(access.shop_id, providers, int(clock()))
    return store.carrier_map(access.shop_id)


def resolve_carrier(carrier_map: CarrierMap, carrier: str, delivery_option_id: str) -> str:
    """The provider id for `carrier` on the order's delivery option ("" when the order names
    none: then a name must mean one id across the shop's options)."""
    candidates = _candidates(carrier_map, delivery_option_id)
    accepted = sorted({p.name for p in candidates})
    where = f"delivery option {delivery_option_id}" if delivery_option_id else "this shop"
    if not candidates:
        raise UnknownCarrierError(
            f"carrier {carrier!r} cannot be mapped: no shipping providers known for {where} "
            "(build the carrier map: tts-sync carriers build)",
            accepted,
        )
    wanted = normalise_carrier(carrier)
    ids = {p.shipping_provider_id for p in candidates}
    # An override for the order's delivery option beats one for every option ("").
    for option in dict.fromkeys((delivery_option_id, "")):
        for override in carrier_map.overrides:
            if normalise_carrier(override.carrier) != wanted:
                continue
            if override.delivery_option_id != option:
                continue
            if override.shipping_provider_id in ids:
                return override.shipping_provider_id
    matches = {p.shipping_provider_id for p in candidates if normalise_carrier(p.name) == wanted}
    if len(matches) == 1:
        return matches.pop()
    if matches:
        raise UnknownCarrierError(
            f"carrier {carrier!r} names {len(matches)} providers whose ids differ by delivery "
            "option, and the order names no delivery option: add an override per option",
            accepted,
        )
    raise UnknownCarrierError(
        f"carrier {carrier!r} is not a shipping provider TikTok accepts for {where}; accepted: "
        f"{', '.join(accepted)} (or map the name: tts-sync carriers set)",
        accepted,
    )


def set_override(
    shop_id: str,
    carrier: str,
    provider: str,
    delivery_option_id: str,
    store: CarrierStore,
) -> CarrierOverride:
    """Map `carrier` to `provider` (a provider id or TikTok's name for it), validated against
    the shop's carrier map."""
    carrier_map = store.carrier_map(shop_id)
    candidates = (
        _candidates(carrier_map, delivery_option_id)
        if delivery_option_id
        else list(carrier_map.providers)
    )
    if delivery_option_id and not any(
        p.delivery_option_id == delivery_option_id for p in carrier_map.providers
    ):
        options = sorted({p.delivery_option_id for p in carrier_map.providers})
        raise CarrierOverrideRefusedError(
            f"delivery option {delivery_option_id} is not in shop {shop_id}'s carrier map "
            f"(options: {', '.join(options) or 'none: build the carrier map first'})"
        )
    by_id = {p.shipping_provider_id for p in candidates}
    by_name = {
        p.shipping_provider_id
        for p in candidates
        if normalise_carrier(p.name) == normalise_carrier(provider)
    }
    if provider in by_id:
        provider_id = provider
    elif len(by_name) == 1:
        provider_id = by_name.pop()
    else:
        accepted = sorted({f"{p.name} ({p.shipping_provider_id})" for p in candidates})
        problem = (
            "names providers with different ids: give the delivery option"
            if by_name
            else "is not a provider TikTok accepts here"
        )
        listed = ", ".join(accepted) or "none: build the carrier map first"
        raise CarrierOverrideRefusedError(f"provider {provider!r} {problem}; accepted: {listed}")
    override = CarrierOverride(
        carrier=carrier, shipping_provider_id=provider_id, delivery_option_id=delivery_option_id
    )
    store.save_override(shop_id, override)
    return override


def _candidates(carrier_map: CarrierMap, delivery_option_id: str) -> list[CarrierProvider]:
    if delivery_option_id:
        own = [p for p in carrier_map.providers if p.delivery_option_id == delivery_option_id]
        if own:
            return own
    # The order names no option (or one the map has not seen): every option of the shop.
    return list(carrier_map.providers)
