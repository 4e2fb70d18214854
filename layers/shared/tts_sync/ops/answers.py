"""What an ops answer may hold: a Lambda answer is at most 6 MB, and an outage can fail every
event of a large replay, so key lists are cut while their counts stay whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LISTED_AT_MOST = 100


def listed(name: str, keys: Sequence[Any]) -> dict[str, Any]:
    """`name`: the first LISTED_AT_MOST keys; `<name>_count`: how many there are in all."""
    return {name: list(keys[:LISTED_AT_MOST]), f"{name}_count": len(keys)}
