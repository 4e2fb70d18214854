"""The outbound contract: committed schemas match the models, and the models keep their rules
(string ids, decimal-string money, no extra fields, shipping address only where needed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support import REPO_ROOT
from tests.unit.outbound.builders import listing_event, order_detail, order_event, shipping_address
from tts_sync.outbound import (
    ADDRESS_EVENT_TYPES,
    EVENT_SOURCE_CATALOG,
    EVENT_SOURCE_ORDERS,
    LISTING_STATUS_CHANGED,
    PRIVACY_DELETION_COMPLETED,
    OrderEventType,
    OutboundEvent,
    OutboundLine,
)
from tts_sync.outbound.schemas import (
    EVENT_KINDS,
    REGENERATE_COMMAND,
    SCHEMA_DIR,
    expected_files,
    schema_drift,
    write_schemas,
)

COMMITTED = REPO_ROOT / SCHEMA_DIR


@pytest.mark.parametrize("name", sorted(expected_files()))
def test_committed_schema_matches_the_models(name: str) -> None:
    path = COMMITTED / name
    assert path.is_file(), f"{SCHEMA_DIR / name} is missing; run: {REGENERATE_COMMAND}"
    assert path.read_text(encoding="utf-8") == expected_files()[name], (
        f"{SCHEMA_DIR / name} drifted from tts_sync.outbound.models; run: {REGENERATE_COMMAND}"
    )


def test_every_event_type_has_a_schema_file() -> None:
    detail_types = {kind.detail_type for kind in EVENT_KINDS}
    assert detail_types == {
        *map(str, OrderEventType),
        LISTING_STATUS_CHANGED,
        PRIVACY_DELETION_COMPLETED,
    }
    for name in expected_files():
        assert (COMMITTED / name).is_file(), f"run: {REGENERATE_COMMAND}"


def test_no_extra_schema_files() -> None:
    committed = {path.name for path in COMMITTED.glob("*")}
    extra = committed - set(expected_files())
    assert not extra, (
        f"{sorted(extra)} in {SCHEMA_DIR} match no event type; run: {REGENERATE_COMMAND}"
    )


def test_drift_check_names_the_file(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    (tmp_path / SCHEMA_DIR / "order-created.json").write_text("{}\n")
    (tmp_path / SCHEMA_DIR / "order-old.json").write_text("{}\n")
    (tmp_path / SCHEMA_DIR / "order-shipped.json").unlink()
    assert schema_drift(tmp_path) == [
        f"{SCHEMA_DIR / 'order-created.json'} differs from the models",
        f"{SCHEMA_DIR / 'order-shipped.json'} is missing",
        f"{SCHEMA_DIR / 'order-old.json'} matches no event type",
    ]
    write_schemas(tmp_path)
    assert schema_drift(tmp_path) == []


def test_schema_envelope_pins_source_and_detail_type() -> None:
    schema = json.loads((COMMITTED / "order-ready-to-ship.json").read_text())
    assert schema["properties"]["source"] == {"const": EVENT_SOURCE_ORDERS}
    assert schema["properties"]["detail-type"] == {"const": "Order Ready To Ship"}
    listing = json.loads((COMMITTED / "listing-status-changed.json").read_text())
    assert listing["properties"]["source"] == {"const": EVENT_SOURCE_CATALOG}


def test_schemas_of_events_without_address_forbid_one() -> None:
    created = json.loads((COMMITTED / "order-created.json").read_text())
    assert {"properties": {"shipping_address": {"type": "null"}}} in created["properties"][
        "detail"
    ]["allOf"]
    ready = json.loads((COMMITTED / "order-ready-to-ship.json").read_text())
    assert ready["properties"]["detail"] == {"$ref": "#/$defs/OrderEventDetail"}


def test_schemas_name_no_buyer_identity() -> None:
    for name, text in expected_files().items():
        for field in ("user_id", "buyer_email", "buyer_nickname", "avatar", "buyer_message"):
            assert f'"{field}"' not in text, (name, field)


# --------------------------------------------------------------------- models


def test_builders_leave_shipping_address_unset() -> None:
    assert order_detail().shipping_address is None
    assert order_event().detail.shipping_address is None  # type: ignore[union-attr]


def test_ids_must_be_strings() -> None:
    with pytest.raises(ValidationError, match="order_id"):
        order_detail(order_id=576461413038785752)
    with pytest.raises(ValidationError, match="sku_id"):
        OutboundLine(line_item_id="1", sku_id=1729592969712207000)  # type: ignore[arg-type]


def test_money_is_a_decimal_string_never_a_float() -> None:
    with pytest.raises(ValidationError):
        OutboundLine(line_item_id="1", sku_id="2", sale_price=12.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        OutboundLine(line_item_id="1", sku_id="2", sale_price="12,50")
    assert OutboundLine(line_item_id="1", sku_id="2", sale_price="-0.50").sale_price == "-0.50"


def test_extra_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="buyer_email"):
        order_detail(buyer_email="jo@example.com")


def test_models_are_frozen() -> None:
    detail = order_detail()
    with pytest.raises(ValidationError):
        detail.order_id = "other"  # type: ignore[misc]


def test_occurred_at_is_stored_in_utc_and_must_be_aware() -> None:
    plus_two = timezone(timedelta(hours=2))
    detail = order_detail(occurred_at=datetime(2026, 12, 1, 12, 30, tzinfo=plus_two))
    assert detail.occurred_at.utcoffset() == timedelta(0)
    assert detail.model_dump(mode="json")["occurred_at"] == "2026-12-01T10:30:00Z"
    with pytest.raises(ValidationError):
        order_detail(occurred_at=datetime(2026, 12, 1, 10, 30))


@pytest.mark.parametrize("event_type", sorted(ADDRESS_EVENT_TYPES))
def test_address_events_may_carry_the_shipping_address(event_type: OrderEventType) -> None:
    event = OutboundEvent.order_event(event_type, order_detail(shipping_address=shipping_address()))
    assert event.detail.shipping_address is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("event_type", sorted(set(OrderEventType) - ADDRESS_EVENT_TYPES))
def test_other_order_events_refuse_a_shipping_address(event_type: OrderEventType) -> None:
    with pytest.raises(ValidationError, match="shipping_address"):
        OutboundEvent.order_event(event_type, order_detail(shipping_address=shipping_address()))


def test_builders_pick_source_and_detail_type() -> None:
    event = order_event(OrderEventType.SHIPPED, event_id="evt-9")
    assert (event.source, event.detail_type, event.event_id) == (
        EVENT_SOURCE_ORDERS,
        "Order Shipped",
        "evt-9",
    )
    listing = listing_event()
    assert (listing.source, listing.detail_type) == (EVENT_SOURCE_CATALOG, LISTING_STATUS_CHANGED)


def test_detail_must_fit_source_and_detail_type() -> None:
    with pytest.raises(ValidationError):
        OutboundEvent(
            source=EVENT_SOURCE_CATALOG, detail_type="Order Created", detail=order_detail()
        )
    with pytest.raises(ValidationError):
        OutboundEvent(
            source=EVENT_SOURCE_ORDERS,
            detail_type=LISTING_STATUS_CHANGED,
            detail=listing_event().detail,
        )


def test_cli_check_fails_on_drift_and_names_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tts_local.cli import main

    assert main(["schemas", "write", "--root", str(tmp_path)]) == 0
    assert main(["schemas", "check", "--root", str(tmp_path)]) == 0
    (tmp_path / SCHEMA_DIR / "order-delivered.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["schemas", "check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "order-delivered.json differs from the models" in err
    assert REGENERATE_COMMAND in err
