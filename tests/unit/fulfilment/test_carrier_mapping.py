"""The carrier mapping: names match TikTok's providers of the order's delivery option ignoring
case and punctuation; ids that differ by delivery option stay apart; overrides map names TikTok
does not use and are validated; an unknown carrier names the providers TikTok accepts."""

from __future__ import annotations

import pytest

from tests.unit.fulfilment.fakes import MemoryFulfilmentStore
from tts_sync.fulfilment.carriers import (
    CarrierOverrideRefusedError,
    UnknownCarrierError,
    resolve_carrier,
    set_override,
)
from tts_sync.fulfilment.models import CarrierProvider

SHOP = "7494049642642441621"
STANDARD, EXPRESS = "7129736992520250113", "7129736992520250114"


@pytest.fixture
def store() -> MemoryFulfilmentStore:
    store = MemoryFulfilmentStore()
    store.save_providers(
        SHOP,
        [
            CarrierProvider(
                delivery_option_id=STANDARD, shipping_provider_id="P-USPS", name="USPS"
            ),
            CarrierProvider(
                delivery_option_id=STANDARD, shipping_provider_id="P-UPS-S", name="UPS"
            ),
            CarrierProvider(delivery_option_id=EXPRESS, shipping_provider_id="P-UPS-X", name="UPS"),
        ],
        built_at=1,
    )
    return store


def test_names_match_per_delivery_option(store: MemoryFulfilmentStore) -> None:
    carriers = store.carrier_map(SHOP)
    assert resolve_carrier(carriers, "u.p.s.", STANDARD) == "P-UPS-S"
    assert resolve_carrier(carriers, "UPS", EXPRESS) == "P-UPS-X"  # ids differ by option
    assert resolve_carrier(carriers, " usps ", "") == "P-USPS"  # one id across the shop
    with pytest.raises(UnknownCarrierError, match="ids differ by delivery option"):
        resolve_carrier(carriers, "UPS", "")
    with pytest.raises(UnknownCarrierError) as caught:
        resolve_carrier(carriers, "USPS", EXPRESS)  # not offered on express
    assert "accepted: UPS" in str(caught.value) and caught.value.accepted == ["UPS"]


def test_overrides_map_other_names_and_are_validated(store: MemoryFulfilmentStore) -> None:
    set_override(SHOP, "United Parcel", "UPS", STANDARD, store)
    set_override(SHOP, "Post", "P-USPS", "", store)
    carriers = store.carrier_map(SHOP)
    assert resolve_carrier(carriers, "united parcel", STANDARD) == "P-UPS-S"
    assert resolve_carrier(carriers, "Post", STANDARD) == "P-USPS"
    with pytest.raises(UnknownCarrierError):  # the STANDARD override does not reach EXPRESS
        resolve_carrier(carriers, "United Parcel", EXPRESS)
    with pytest.raises(CarrierOverrideRefusedError, match="not a provider TikTok accepts"):
        set_override(SHOP, "Acme", "DHL", "", store)
    with pytest.raises(CarrierOverrideRefusedError, match="different ids"):
        set_override(SHOP, "Brown", "UPS", "", store)  # UPS is two ids: name the option
    with pytest.raises(CarrierOverrideRefusedError, match="not in shop"):
        set_override(SHOP, "Brown", "UPS", "999", store)
    assert store.delete_override(SHOP, "post", "") is True
    with pytest.raises(UnknownCarrierError):
        resolve_carrier(store.carrier_map(SHOP), "Post", STANDARD)


def test_an_unbuilt_map_says_how_to_build_it() -> None:
    with pytest.raises(UnknownCarrierError, match="tts-sync carriers build"):
        resolve_carrier(MemoryFulfilmentStore().carrier_map(SHOP), "UPS", STANDARD)


def test_an_override_for_the_delivery_option_beats_one_for_every_option(
    store: MemoryFulfilmentStore,
) -> None:
    # Saved in either order, the per-option override wins on its option.
    set_override(SHOP, "Parcel", "P-USPS", "", store)
    set_override(SHOP, "Parcel", "P-UPS-S", STANDARD, store)
    carriers = store.carrier_map(SHOP)
    assert resolve_carrier(carriers, "Parcel", STANDARD) == "P-UPS-S"
    reordered = carriers.model_copy(update={"overrides": list(reversed(carriers.overrides))})
    assert resolve_carrier(reordered, "Parcel", STANDARD) == "P-UPS-S"
