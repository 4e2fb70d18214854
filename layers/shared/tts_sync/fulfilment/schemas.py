"""The committed JSON schema of the TrackingUploadQueue message body (schemas/inbound/), for
back-office developers. `tts-sync schemas write` regenerates it; a unit test fails when it
drifts from tts_sync.fulfilment.models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tts_sync.fulfilment.models import TrackingUpload
from tts_sync.outbound.schemas import render

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
    directory = root / INBOUND_SCHEMA_DIR
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in expected_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def schema_drift(root: Path) -> list[str]:
    problems = []
    for name, text in expected_files().items():
        path = root / INBOUND_SCHEMA_DIR / name
        if not path.is_file():
            problems.append(f"{INBOUND_SCHEMA_DIR / name} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{INBOUND_SCHEMA_DIR / name} differs from the models")
    return problems
