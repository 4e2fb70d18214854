"""The committed JSON schema of the QuantityExportQueue message body (schemas/inbound/), for
back-office developers. `tts-sync schemas write` regenerates it with the outbound ones; a unit
test fails when it drifts from tts_sync.stock.models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from tts_sync.outbound.schemas import render, schema_files_drift, write_schema_files
from tts_sync.stock.models import QuantityExportMessage

INBOUND_SCHEMA_DIR = Path("schemas") / "inbound"  # relative to the repository root
QUANTITY_EXPORT_SCHEMA = "quantity-export.json"


def quantity_export_schema() -> dict[str, Any]:
    body = TypeAdapter(QuantityExportMessage).json_schema(ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://tts-sync/schemas/inbound/{QUANTITY_EXPORT_SCHEMA}",
        "title": "Quantity export message",
        "description": (
            "Body of a QuantityExportQueue message: one stock level, or {levels: [...]}. The SKU "
            "is named by seller_sku or by product_id + sku_id, the location by location_id "
            "(mapped) or warehouse_id; available >= 0; as_of is when the back office counted, "
            "with a zone."
        ),
        **body,
    }


def expected_inbound_files() -> dict[str, str]:
    return {QUANTITY_EXPORT_SCHEMA: render(quantity_export_schema())}


def write_inbound_schemas(root: Path) -> list[Path]:
    return write_schema_files(root, INBOUND_SCHEMA_DIR, expected_inbound_files())


def inbound_schema_drift(root: Path) -> list[str]:
    return schema_files_drift(root, INBOUND_SCHEMA_DIR, expected_inbound_files())
