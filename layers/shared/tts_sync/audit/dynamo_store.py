"""AuditTable adapter: `pk` = subject (order#<order_id>, sku#<shop_id>#<sku_id>), `sk` = the
entry's deterministic sort key; `expires_at` (TTL) = written + the retention. A put per entry:
the same key overwrites (a replay rewrites, never adds)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tts_sync.audit.models import AuditEntry, AuditKind
from tts_sync.errors import StorageUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Puts in flight for one call: a batch of 100 orders writes a few hundred entries.
PUTS_IN_FLIGHT = 8


class DynamoAuditLog:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        retention_seconds: int,
        clock: Callable[[], float],
    ) -> None:
        self._client, self._table = client, table_name
        self._retention, self._clock = retention_seconds, clock

    def record(self, entries: Sequence[AuditEntry]) -> None:
        expires_at = str(int(self._clock()) + self._retention)
        items = [_item(entry, expires_at) for entry in entries]
        if len(items) <= 2:
            failures = [self._put(item) for item in items]
        else:
            # The threads only call put_item on items built above: no model is first used in
            # them (else tts_sync.models_build.build_deferred first).
            with ThreadPoolExecutor(max_workers=min(PUTS_IN_FLIGHT, len(items))) as pool:
                failures = list(pool.map(self._put, items))
        failed = [f for f in failures if f]
        if failed:
            raise StorageUnavailableError(f"{len(failed)} audit entries not written: {failed[0]}")

    def _put(self, item: dict[str, Any]) -> str:
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except Exception as exc:  # botocore's ClientError, timeouts: reported by record()
            return type(exc).__name__
        return ""


class DynamoAuditReader:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client, self._table = client, table_name

    def entries(
        self, subject: str, *, since: str = "", limit: int | None = None
    ) -> list[AuditEntry]:
        values: dict[str, Any] = {":subject": {"S": subject}}
        condition = "pk = :subject"
        if since:  # a key attribute cannot be compared with an empty string
            condition += " AND sk >= :since"
            values[":since"] = {"S": since}
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": True,
        }
        found: list[AuditEntry] = []
        for page in self._client.get_paginator("query").paginate(**request):
            found += [_entry(item) for item in page.get("Items", [])]
            if limit is not None and len(found) >= limit:
                return found[:limit]
        return found


def _item(entry: AuditEntry, expires_at: str) -> dict[str, Any]:
    return {
        "pk": {"S": entry.subject},
        "sk": {"S": entry.sort_key},
        "kind": {"S": entry.kind.value},
        "at": {"N": f"{entry.at:.3f}"},
        "ref": {"S": entry.ref},
        "shop_id": {"S": entry.shop_id},
        "order_id": {"S": entry.order_id},
        "reason": {"S": entry.reason},
        "detail": {"S": json.dumps(entry.detail, sort_keys=True)},
        "expires_at": {"N": expires_at},
    }


def _entry(item: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        subject=item["pk"]["S"],
        kind=AuditKind(item["kind"]["S"]),
        at=float(item["at"]["N"]),
        ref=item["ref"]["S"],
        shop_id=item["shop_id"]["S"],
        order_id=item.get("order_id", {}).get("S", ""),
        reason=item.get("reason", {}).get("S", ""),
        detail=json.loads(item.get("detail", {}).get("S", "{}")),
    )
