"""upload_tracking() against a scripted TikTok: a write refused because an earlier write (whose
outcome was unknown) applied late is an upload, not a refusal; a refused write after TikTok's
state moved on is refused with the precise reason; a read TikTok refuses gives the claim back;
an order id TikTok rejects is unknown_order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests.unit.fulfilment.fakes import MemoryFulfilmentStore
from tests.unit.orders.fakes import MemoryOrderStore
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_sync.fulfilment.models import CarrierProvider, RefusalCode, TrackingUpload, UploadOutcome
from tts_sync.fulfilment.ports import ShopTarget
from tts_sync.fulfilment.upload import UploadContext, upload_tracking
from tts_sync.orders.sync import SyncContext
from tts_sync.tiktok import ShopAccess
from tts_sync.tiktok.errors import TikTokOutcomeUnknownError, TikTokPermanentError
from tts_sync.tiktok.models import Order, OrderLineItem, PackageDetail, ShippedPackage

SHOP, ORDER, OPTION, PACKAGE = "7495540735365777507", "576653688135258178", "71297", "P1"
TRACKING = "1Z999AA10123456784"
NOW = 1_764_600_000 + 5 * 3600
ALREADY_SHIPPED = TikTokPermanentError("package already shipped", code=21011001)


class ScriptedTikTok:
    """One order; `after_write` is what the order looks like once a write was refused."""

    def __init__(self, order: Order) -> None:
        self.order = order
        self.refuse_write: TikTokPermanentError | None = None
        self.after_refusal: Order | None = None
        self.refuse_read: TikTokPermanentError | None = None
        self.refuse_package_read: TikTokPermanentError | None = None
        self.unknown_write = False
        self.writes: list[str] = []

    def get_order_detail(self, shop: ShopAccess, ids: Sequence[str], **_: Any) -> list[Order]:
        if self.refuse_read is not None:
            raise self.refuse_read
        return [self.order]

    def _write(self, name: str) -> None:
        self.writes.append(name)
        if self.unknown_write:
            raise TikTokOutcomeUnknownError("timed out", code=None)
        if self.refuse_write is not None:
            if self.after_refusal is not None:
                self.order = self.after_refusal
            raise self.refuse_write

    def mark_shipped(self, *args: Any, **_: Any) -> ShippedPackage:
        self._write("mark_shipped")
        return ShippedPackage(package_id=PACKAGE)

    def ship_package(self, *args: Any, **_: Any) -> None:
        self._write("ship_package")

    def update_shipping_info(self, *args: Any, **_: Any) -> None:
        self._write("update_shipping_info")

    def get_package_detail(self, shop: ShopAccess, package_id: str, **_: Any) -> PackageDetail:
        if self.refuse_package_read is not None:
            raise self.refuse_package_read
        return PackageDetail(package_id=package_id)


class Shops:
    def __init__(self, region: str) -> None:
        self.region = region

    def target(self, shop_id: str) -> ShopTarget | None:
        access = ShopAccess(shop_id=shop_id, shop_cipher="c", access_token="t")
        return ShopTarget(access=access, region=self.region)


def tiktok_order(tracking: str = "", status: str = "AWAITING_SHIPMENT") -> Order:
    line = OrderLineItem(
        id="L1",
        sku_id="1",
        package_id=PACKAGE,
        tracking_number=tracking,
        shipping_provider_id="P-UPS" if tracking else "",
    )
    return Order(
        id=ORDER,
        status=status,
        create_time=NOW - 7200,
        update_time=NOW - 7200,
        paid_time=NOW - 7200,
        delivery_option_id=OPTION,
        rts_time=NOW - 600 if tracking else None,
        line_items=[line],
    )


@pytest.fixture
def store() -> MemoryFulfilmentStore:
    store = MemoryFulfilmentStore()
    provider = CarrierProvider(delivery_option_id=OPTION, shipping_provider_id="P-UPS", name="UPS")
    store.save_providers(SHOP, [provider], built_at=1)
    return store


def upload(tiktok: ScriptedTikTok, store: MemoryFulfilmentStore, region: str = "US") -> Any:
    publisher = MemoryEventPublisher()
    context = UploadContext(
        store=store,
        sync=SyncContext(store=MemoryOrderStore(), publisher=publisher, clock=lambda: NOW),
        shops=Shops(region),
        api=lambda: tiktok,  # type: ignore[arg-type,return-value]
        clock=lambda: NOW,
    )
    message = TrackingUpload.model_validate(
        {
            "shop_id": SHOP,
            "order_id": ORDER,
            "carrier": "UPS",
            "tracking_number": TRACKING,
            "shipped_at": "2026-12-01T15:00:00Z",
        }
    )
    return upload_tracking(message, context, lambda: 30.0), publisher


@pytest.mark.parametrize("region", ["US", "MY"])
def test_a_write_refused_because_an_earlier_one_applied_late_is_an_upload(
    store: MemoryFulfilmentStore, region: str
) -> None:
    tiktok = ScriptedTikTok(tiktok_order())
    tiktok.refuse_write = ALREADY_SHIPPED
    tiktok.after_refusal = tiktok_order(tracking=TRACKING, status="AWAITING_COLLECTION")
    result, publisher = upload(tiktok, store, region)
    assert result.outcome is UploadOutcome.UPLOADED and result.package_id == PACKAGE
    assert len(tiktok.writes) == 1
    assert publisher.detail_types().count("Order Shipped") == 1
    assert store.claims[(SHOP, f"{ORDER}#order#{TRACKING}")].status == "done"
    assert store.refused == {}


def test_a_refused_write_after_the_order_was_cancelled_is_refused_precisely(
    store: MemoryFulfilmentStore,
) -> None:
    tiktok = ScriptedTikTok(tiktok_order())
    tiktok.refuse_write = TikTokPermanentError("order is CANCELLED; cannot ship", code=21011001)
    tiktok.after_refusal = tiktok_order(status="CANCELLED")
    result, _ = upload(tiktok, store)
    assert result.outcome is UploadOutcome.REFUSED and result.code is RefusalCode.ORDER_CANCELLED
    assert len(tiktok.writes) == 1 and store.claims == {}


def test_a_refused_write_with_nothing_changed_stays_tiktok_refused(
    store: MemoryFulfilmentStore,
) -> None:
    tiktok = ScriptedTikTok(tiktok_order())
    tiktok.refuse_write = TikTokPermanentError("no", code=21011002)
    result, _ = upload(tiktok, store)
    assert result.outcome is UploadOutcome.REFUSED and result.code is RefusalCode.TIKTOK_REFUSED
    assert result.tiktok_code == 21011002 and len(tiktok.writes) == 1  # not resent
    assert store.claims == {}


def test_a_refused_read_gives_the_claim_back(store: MemoryFulfilmentStore) -> None:
    tiktok = ScriptedTikTok(tiktok_order())
    tiktok.unknown_write = True  # then package detail is read, and TikTok refuses that
    tiktok.refuse_package_read = TikTokPermanentError("bad package", code=21011099)
    with pytest.raises(TikTokPermanentError):
        upload(tiktok, store, region="MY")
    assert store.claims == {}  # a redelivery is decided again, not held by a dead lease


def test_an_order_id_tiktok_rejects_is_an_unknown_order(store: MemoryFulfilmentStore) -> None:
    tiktok = ScriptedTikTok(tiktok_order())
    tiktok.refuse_read = TikTokPermanentError("invalid order id", code=36009004)
    result, _ = upload(tiktok, store)
    assert result.outcome is UploadOutcome.REFUSED and result.code is RefusalCode.UNKNOWN_ORDER
    assert store.claims == {} and tiktok.writes == []
    # Any other refused read is not an unknown order: it goes up, the claim given back.
    tiktok.refuse_read = TikTokPermanentError("missing scope", code=105005)
    with pytest.raises(TikTokPermanentError):
        upload(tiktok, store)
    assert store.claims == {}


def test_a_refused_write_after_tiktok_moved_on_decides_again_once(
    store: MemoryFulfilmentStore,
) -> None:
    tiktok = ScriptedTikTok(tiktok_order())
    tiktok.refuse_write = ALREADY_SHIPPED
    # Shipped meanwhile with another tracking number (seller center): now a correction.
    tiktok.after_refusal = tiktok_order(tracking="1ZOTHER00000001", status="AWAITING_COLLECTION")
    calls = tiktok.writes

    def update_once(*args: Any, **_: Any) -> None:
        calls.append("update_shipping_info")

    tiktok.update_shipping_info = update_once  # type: ignore[method-assign]
    result, _ = upload(tiktok, store)
    assert result.outcome is UploadOutcome.UPLOADED and result.action == "update_shipping_info"
    assert calls == ["mark_shipped", "update_shipping_info"]
