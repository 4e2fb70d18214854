"""The committed JSON schemas of the outbound events: one file per `detail-type` under
schemas/outbound/, each the EventBridge envelope `{source, detail-type, detail}` the back office
receives. `tts-sync schemas write` regenerates them; a unit test fails when they drift.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tts_sync.outbound.models import (
    ADDRESS_EVENT_TYPES,
    DETAIL_VERSION,
    EVENT_SOURCE_CATALOG,
    EVENT_SOURCE_ORDERS,
    EVENT_SOURCE_PRIVACY,
    LISTING_STATUS_CHANGED,
    PRIVACY_DELETION_COMPLETED,
    ListingEventDetail,
    OrderEventDetail,
    OrderEventType,
    PrivacyDeletionDetail,
)

SCHEMA_DIR = Path("schemas") / "outbound"  # relative to the repository root
REGENERATE_COMMAND = "uv run tts-sync schemas write"


@dataclass(frozen=True)
class EventKind:
    source: str
    detail_type: str
    detail_model: type[BaseModel]
    carries_address: bool = False

    @property
    def slug(self) -> str:
        return self.detail_type.lower().replace(" ", "-")


EVENT_KINDS: tuple[EventKind, ...] = (
    *(
        EventKind(EVENT_SOURCE_ORDERS, str(kind), OrderEventDetail, kind in ADDRESS_EVENT_TYPES)
        for kind in OrderEventType
    ),
    EventKind(EVENT_SOURCE_CATALOG, LISTING_STATUS_CHANGED, ListingEventDetail),
    EventKind(EVENT_SOURCE_PRIVACY, PRIVACY_DELETION_COMPLETED, PrivacyDeletionDetail),
)


def event_schema(kind: EventKind) -> dict[str, Any]:
    """The envelope schema of one event type; the detail's models sit under $defs."""
    detail = kind.detail_model.model_json_schema(
        mode="serialization", ref_template="#/$defs/{model}"
    )
    defs = detail.pop("$defs", {})
    defs[kind.detail_model.__name__] = detail
    detail_schema: dict[str, Any] = {"$ref": f"#/$defs/{kind.detail_model.__name__}"}
    if kind.detail_model is OrderEventDetail and not kind.carries_address:
        # The privacy rule, visible to consumers: no shipping address on this event.
        detail_schema = {
            "allOf": [detail_schema, {"properties": {"shipping_address": {"type": "null"}}}]
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://tts-sync/schemas/outbound/{kind.slug}.json",
        "title": kind.detail_type,
        "description": (
            f"EventBridge event {kind.detail_type!r} from {kind.source!r}, detail version "
            f"{DETAIL_VERSION}. Other envelope fields (id, time, account, ...) are EventBridge's."
        ),
        "type": "object",
        "required": ["source", "detail-type", "detail"],
        "properties": {
            "source": {"const": kind.source},
            "detail-type": {"const": kind.detail_type},
            "detail": detail_schema,
        },
        "$defs": defs,
    }


def render(schema: dict[str, Any]) -> str:
    """Deterministic text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema_files(root: Path, folder: Path, files: dict[str, str]) -> list[Path]:
    """Writes each name -> text under root/folder (the message contracts' committed schemas)."""
    directory = root / folder
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def schema_files_drift(root: Path, folder: Path, files: dict[str, str]) -> list[str]:
    """One line per file under root/folder that is missing or differs from its text."""
    problems = []
    for name, text in files.items():
        path = root / folder / name
        if not path.is_file():
            problems.append(f"{folder / name} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{folder / name} differs from the models")
    return problems


def expected_files() -> dict[str, str]:
    """File name -> content of every schema file that should be committed."""
    return {f"{kind.slug}.json": render(event_schema(kind)) for kind in EVENT_KINDS}


def write_schemas(root: Path) -> list[Path]:
    """(Re)writes every schema under root/schemas/outbound and removes stale ones."""
    directory = root / SCHEMA_DIR
    directory.mkdir(parents=True, exist_ok=True)
    expected = expected_files()
    for stale in directory.glob("*.json"):
        if stale.name not in expected:
            stale.unlink()
    written = []
    for name, text in expected.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def schema_drift(root: Path) -> list[str]:
    """One line per problem (drifted, missing or extra file); empty when all is committed."""
    directory = root / SCHEMA_DIR
    expected = expected_files()
    problems = []
    for name, text in expected.items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{SCHEMA_DIR / name} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{SCHEMA_DIR / name} differs from the models")
    if directory.is_dir():
        for extra in sorted(directory.glob("*.json")):
            if extra.name not in expected:
                problems.append(f"{SCHEMA_DIR / extra.name} matches no event type")
    return problems
