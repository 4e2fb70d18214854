"""The committed JSON schema of the PrivacyDeletionQueue message (schemas/privacy/), generated
from the pydantic model. `tts-sync schemas write` regenerates it (with the outbound ones); a
unit test fails when it drifts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tts_sync.outbound.schemas import render, schema_files_drift, write_schema_files
from tts_sync.privacy.models import PrivacyDeletionMessage

SCHEMA_DIR = Path("schemas") / "privacy"  # relative to the repository root
REQUEST_SCHEMA = "deletion-request.json"


def request_schema() -> dict[str, Any]:
    schema = PrivacyDeletionMessage.model_json_schema(ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://tts-sync/schemas/privacy/{REQUEST_SCHEMA}",
        "title": "Privacy deletion request",
        "description": (
            "Body of a PrivacyDeletionQueue message: scope buyer (buyer_user_id and/or "
            "order_ids) or shop. An invalid body gets a rejected receipt naming the reason."
        ),
        **{k: v for k, v in schema.items() if k != "title"},
    }


def expected_files() -> dict[str, str]:
    return {REQUEST_SCHEMA: render(request_schema())}


def write_schemas(root: Path) -> list[Path]:
    return write_schema_files(root, SCHEMA_DIR, expected_files())


def schema_drift(root: Path) -> list[str]:
    return schema_files_drift(root, SCHEMA_DIR, expected_files())
