"""DynamoDB's per-item atomicity, which moto's server does not give concurrent requests.

moto's transact_write_items checks every condition and then writes, with no lock, and on a
failed condition restores the whole table from a deep copy taken at the start: two
transactions conditioned on the same item revision can both pass, and a cancelled one erases
what other requests wrote meanwhile (its deep copy can even fail with "dictionary changed size
during iteration"). Real DynamoDB serialises conditional writes per item. One lock around
moto's DynamoDB writes gives the local stack and the tests that guarantee (writes are short;
reads are not locked).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()
_applied = False


def serialize_dynamodb_writes() -> None:
    """Idempotent: call once per process before moto serves requests."""
    global _applied
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        @functools.wraps(original)
        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    _applied = True
