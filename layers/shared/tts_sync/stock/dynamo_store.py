"""StockTable adapter: the export ledger per (shop, SKU, warehouse), refusals and buffer rules.

Items (pk shop_id, sk stock_key):
- level#<sku_id>#<warehouse_id>: the newest level received (as_of-monotonic by a conditional
  write), what was sent and what TikTok confirmed, when, and why (reserved units).
- refusal#<refused_at>#<message_id>: a level or message never exported and the reason (TTL 30 d).
- rules#buffer: the shop's buffer rules.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tts_sync.errors import StorageUnavailableError
from tts_sync.orders.dynamo_store import reservation_from_item
from tts_sync.orders.reservations import Reservation
from tts_sync.stock.models import BufferRules, Refusal, SkuWarehouseStock
from tts_sync.stock.ports import StockKey

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REFUSAL_RETENTION_SECONDS = 30 * 24 * 3600
BATCH_GET_KEYS = 100
MAX_TRANSACTION_ITEMS = 100
_NUMBER_FIELDS = (
    "level_available",
    "level_as_of",
    "sent_value",
    "sent_at",
    "confirmed_value",
    "confirmed_at",
    "confirmed_as_of",
    "reserved_units",
)
_INT_FIELDS = {"level_available", "sent_value", "confirmed_value", "reserved_units"}
_TEXT_FIELDS = (
    "sku_id",
    "warehouse_id",
    "product_id",
    "seller_sku",
    "location_id",
    "level_message_id",
    "last_error",
)


class DynamoStockLedger:
    def __init__(self, client: DynamoDBClient, table: str, *, transactions: bool = True) -> None:
        self._client = client
        self._table = table
        # Off: one UpdateItem each. For moto at volume: its transact_write_items deep-copies
        # the tables on every call (see tts_local.stack.moto_atomic), real DynamoDB does not.
        self._transactions = transactions

    def get(self, shop_id: str, keys: Iterable[StockKey]) -> dict[StockKey, SkuWarehouseStock]:
        wanted = list(dict.fromkeys(keys))
        found: dict[StockKey, SkuWarehouseStock] = {}
        for start in range(0, len(wanted), BATCH_GET_KEYS):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [_key(shop_id, _level_key(*k)) for k in wanted[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                reply = _call(self._client.batch_get_item, RequestItems=request)
                for item in reply.get("Responses", {}).get(self._table, []):
                    entry = _entry(item)
                    found[(entry.sku_id, entry.warehouse_id)] = entry
                request = dict(reply.get("UnprocessedKeys") or {})
        return found

    def record_level(self, level: SkuWarehouseStock) -> bool:
        return self._conditional_update(_level_update(self._table, level))

    def record_levels(self, levels: Sequence[SkuWarehouseStock]) -> list[bool]:
        return self._conditional_updates([_level_update(self._table, lv) for lv in levels])

    def record_confirmed(
        self, entry: SkuWarehouseStock, *, value: int, reserved: int, at: float
    ) -> bool:
        return self._conditional_update(_confirm_update(self._table, entry, value, reserved, at))

    def record_confirmations(
        self, confirmations: Sequence[tuple[SkuWarehouseStock, int, int]], *, at: float
    ) -> list[bool]:
        return self._conditional_updates(
            [
                _confirm_update(self._table, e, value, reserved, at)
                for e, value, reserved in confirmations
            ]
        )

    def _conditional_update(self, update: dict[str, Any]) -> bool:
        try:
            self._client.update_item(**update)
        except ClientError as exc:
            if _conditional(exc):
                return False
            raise StorageUnavailableError(type(exc).__name__) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        return True

    def _conditional_updates(self, updates: list[dict[str, Any]]) -> list[bool]:
        """Many conditional updates in transactions of up to 100: one round trip in the common
        case. A cancelled transaction names the items whose condition failed (False); the
        others were not applied and go again without them. Conflicts with a concurrent
        transaction fall back to one update each."""
        if not self._transactions:
            return [self._conditional_update(update) for update in updates]
        results: list[bool | None] = [None] * len(updates)
        for start in range(0, len(updates), MAX_TRANSACTION_ITEMS):
            pending = list(range(start, min(start + MAX_TRANSACTION_ITEMS, len(updates))))
            for _ in range(3):
                if not pending:
                    break
                if len(pending) == 1:
                    break
                items: list[Any] = [{"Update": _transact(updates[i])} for i in pending]
                try:
                    self._client.transact_write_items(TransactItems=items)
                except ClientError as exc:
                    reasons = exc.response.get("CancellationReasons") or []
                    if _error_code(exc) != "TransactionCanceledException" or not reasons:
                        raise StorageUnavailableError(_error_code(exc)) from exc
                    failed = [
                        i
                        for i, reason in zip(pending, reasons, strict=False)
                        if reason.get("Code") == "ConditionalCheckFailed"
                    ]
                    if not failed:
                        break  # conflicts or throttling: one update each below
                    for i in failed:
                        results[i] = False
                    pending = [i for i in pending if i not in failed]
                except BotoCoreError as exc:
                    raise StorageUnavailableError(type(exc).__name__) from exc
                else:
                    for i in pending:
                        results[i] = True
                    pending = []
            for i in pending:
                results[i] = self._conditional_update(updates[i])
        return [bool(r) for r in results]

    def record_failure(
        self, shop_id: str, key: StockKey, *, value: int, error: str, at: float
    ) -> None:
        _call(
            self._client.update_item,
            TableName=self._table,
            Key=_key(shop_id, _level_key(*key)),
            UpdateExpression="SET sent_value = :value, sent_at = :at, last_error = :error",
            ExpressionAttributeValues={
                ":value": {"N": str(value)},
                ":at": {"N": _num(at)},
                ":error": {"S": error[:500]},
            },
        )

    def levels(self, shop_id: str, sku_ids: Iterable[str] | None = None) -> list[SkuWarehouseStock]:
        wanted = set(sku_ids) if sku_ids is not None else None
        entries = [
            _entry(item)
            for item in self._query(shop_id, "level#")
            if wanted is None or item["sku_id"]["S"] in wanted
        ]
        return entries

    def record_refusal(self, refusal: Refusal) -> None:
        item: dict[str, Any] = {
            "shop_id": {"S": refusal.shop_id or "-"},
            "stock_key": {"S": f"refusal#{refusal.refused_at.isoformat()}#{refusal.message_id}"},
            "message_id": {"S": refusal.message_id},
            "reason": {"S": refusal.reason[:1000]},
            "sku_ref": {"S": refusal.sku_ref},
            "location_ref": {"S": refusal.location_ref},
            "body_excerpt": {"S": refusal.body_excerpt[:2000]},
            "refused_at": {"S": refusal.refused_at.isoformat()},
            "expires_at": {"N": str(int(time.time()) + REFUSAL_RETENTION_SECONDS)},
        }
        if refusal.code is not None:
            item["code"] = {"N": str(refusal.code)}
        _call(self._client.put_item, TableName=self._table, Item=item)

    def refusals(self, shop_id: str) -> list[Refusal]:
        return [
            Refusal(
                shop_id="" if item["shop_id"]["S"] == "-" else item["shop_id"]["S"],
                message_id=item["message_id"]["S"],
                reason=item["reason"]["S"],
                sku_ref=item.get("sku_ref", {}).get("S", ""),
                location_ref=item.get("location_ref", {}).get("S", ""),
                code=int(item["code"]["N"]) if "code" in item else None,
                body_excerpt=item.get("body_excerpt", {}).get("S", ""),
                refused_at=datetime.fromisoformat(item["refused_at"]["S"]),
            )
            for item in self._query(shop_id or "-", "refusal#")
        ]

    def buffer_rules(self, shop_id: str) -> BufferRules:
        reply = _call(
            self._client.get_item,
            TableName=self._table,
            Key=_key(shop_id, "rules#buffer"),
            ConsistentRead=True,
        )
        item = reply.get("Item")
        if not item:
            return BufferRules()
        return BufferRules(
            percent_listed=int(item["percent_listed"]["N"]),
            fixed_reserve=int(item["fixed_reserve"]["N"]),
            max_listed=int(item["max_listed"]["N"]) if "max_listed" in item else None,
        )

    def save_buffer_rules(self, shop_id: str, rules: BufferRules) -> None:
        item: dict[str, Any] = {
            **_key(shop_id, "rules#buffer"),
            "percent_listed": {"N": str(rules.percent_listed)},
            "fixed_reserve": {"N": str(rules.fixed_reserve)},
        }
        if rules.max_listed is not None:
            item["max_listed"] = {"N": str(rules.max_listed)}
        _call(self._client.put_item, TableName=self._table, Item=item)

    def _query(self, shop_id: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "shop_id = :shop AND begins_with(stock_key, :prefix)",
            "ExpressionAttributeValues": {":shop": {"S": shop_id}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            reply = _call(self._client.query, **request)
            items.extend(reply.get("Items", []))
            if not reply.get("LastEvaluatedKey"):
                return items
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


RESERVATIONS_BY_ORDER_TIME_INDEX = "ReservationsByOrderTimeIndex"


class DynamoHeldReservations:
    """ReservationsTable's ReservationsByOrderTimeIndex (shop_id, ordered_at): a shop's
    reservations of orders created since a moment, in one query."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def held_since(self, shop_id: str, since: int) -> list[Reservation]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": RESERVATIONS_BY_ORDER_TIME_INDEX,
            "KeyConditionExpression": "shop_id = :shop AND ordered_at >= :since",
            "ExpressionAttributeValues": {":shop": {"S": shop_id}, ":since": {"N": str(since)}},
        }
        found = []
        while True:
            reply = _call(self._client.query, **request)
            found += [reservation_from_item(item) for item in reply.get("Items", [])]
            if not reply.get("LastEvaluatedKey"):
                return found
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def _level_update(table: str, level: SkuWarehouseStock) -> dict[str, Any]:
    assert level.level_as_of is not None and level.level_available is not None
    return {
        "TableName": table,
        "Key": _key(level.shop_id, _level_key(level.sku_id, level.warehouse_id)),
        "UpdateExpression": (
            "SET sku_id = :sku, warehouse_id = :wh, product_id = :product, "
            "seller_sku = :seller, location_id = :location, level_available = :available, "
            "level_as_of = :as_of, level_message_id = :message"
        ),
        "ConditionExpression": "attribute_not_exists(level_as_of) OR level_as_of <= :as_of",
        "ExpressionAttributeValues": {
            ":sku": {"S": level.sku_id},
            ":wh": {"S": level.warehouse_id},
            ":product": {"S": level.product_id},
            ":seller": {"S": level.seller_sku},
            ":location": {"S": level.location_id},
            ":available": {"N": str(level.level_available)},
            ":as_of": {"N": _num(level.level_as_of)},
            ":message": {"S": level.level_message_id},
        },
    }


def _confirm_update(
    table: str, entry: SkuWarehouseStock, value: int, reserved: int, at: float
) -> dict[str, Any]:
    assert entry.level_as_of is not None
    return {
        "TableName": table,
        "Key": _key(entry.shop_id, _level_key(entry.sku_id, entry.warehouse_id)),
        "UpdateExpression": (
            "SET sent_value = :value, sent_at = :at, confirmed_value = :value, "
            "confirmed_at = :at, confirmed_as_of = :as_of, reserved_units = :reserved, "
            "last_error = :empty"
        ),
        # Only if no newer level arrived while the call was in flight.
        "ConditionExpression": "level_as_of = :as_of",
        "ExpressionAttributeValues": {
            ":value": {"N": str(value)},
            ":at": {"N": _num(at)},
            ":as_of": {"N": _num(entry.level_as_of)},
            ":reserved": {"N": str(reserved)},
            ":empty": {"S": ""},
        },
    }


def _transact(update: dict[str, Any]) -> dict[str, Any]:
    return {
        "TableName": update["TableName"],
        "Key": update["Key"],
        "UpdateExpression": update["UpdateExpression"],
        "ConditionExpression": update["ConditionExpression"],
        "ExpressionAttributeValues": update["ExpressionAttributeValues"],
    }


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)


def _key(shop_id: str, stock_key: str) -> dict[str, Any]:
    return {"shop_id": {"S": shop_id}, "stock_key": {"S": stock_key}}


def _level_key(sku_id: str, warehouse_id: str) -> str:
    return f"level#{sku_id}#{warehouse_id}"


def _num(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _entry(item: dict[str, Any]) -> SkuWarehouseStock:
    fields: dict[str, Any] = {"shop_id": item["shop_id"]["S"]}
    for name in _TEXT_FIELDS:
        if name in item:
            fields[name] = item[name]["S"]
    for name in _NUMBER_FIELDS:
        if name in item:
            number = item[name]["N"]
            fields[name] = int(number) if name in _INT_FIELDS else float(number)
    return SkuWarehouseStock.model_validate(fields)


def _conditional(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _call(operation: Any, **kwargs: Any) -> Any:
    try:
        return operation(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise StorageUnavailableError(type(exc).__name__) from exc
