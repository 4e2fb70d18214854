"""The committed JSON schema of the TrackingUploadQueue message body (schemas/inbound/), for
back-office developers. `tts-sync schemas write` regenerates it; a unit test fails when it
drifts from tts_sync.fulfilment.models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tts_sync.fulfilment.models import TrackingUpload
from tts_sync.outbound.schemas import render, schema_files_drift, write_schema_files

INBOUND_SCHEMA_DIR = Path("schemas") / "inbound"  # relative to the repository root
TRACKING_UPLOAD_SCHEMA = "tracking-upload.json"


def tracking_upload_schema() -> dict[str, Any]:
    body = TrackingUpload.model_json_schema(ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://tts-sync/schemas/inbound/{TRACKING_UPLOAD_SCHEMA}",
        "title": "Tracking upload message",
        "description": (
            "Body of a TrackingUploadQueue message: one shipment of an order. carrier is the "
            "back office's name (mapped per shop to a TikTok shipping provider); line_item_ids "
            "ships part of the order, package_id names TikTok's package; shipped_at has a zone."
        ),
        **body,
    }


def expected_files() -> dict[str, str]:
    return {TRACKING_UPLOAD_SCHEMA: render(tracking_upload_schema())}


def write_schemas(root: Path) -> list[Path]:
    return write_schema_files(root, INBOUND_SCHEMA_DIR, expected_files())


def schema_drift(root: Path) -> list[str]:
    return schema_files_drift(root, INBOUND_SCHEMA_DIR, expected_files())
