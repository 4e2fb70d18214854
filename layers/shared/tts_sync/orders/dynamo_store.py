"""DynamoDB adapters of order sync: OrdersTable (one item per order, optimistic revision, the
events still to publish), ReservationsTable (one item per shop#SKU and order) and the poll's
watermarks in SyncStateTable.

An order and its changed reservations are written in ONE transaction, so no crash can leave
the ledger out of step with the record it is derived from.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tts_sync.dynamo_values import from_attribute, to_attribute
from tts_sync.errors import StorageUnavailableError
from tts_sync.orders.models import OrderRecord, StoredOrder
from tts_sync.orders.ports import MissingOrder, OrderWrite, ShipDue
from tts_sync.orders.reservations import Reservation, ReservationState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SHIP_DEADLINE_INDEX = "ShipDeadlineIndex"
PENDING_EVENTS_INDEX = "PendingEventsIndex"
# Consumed and released reservations are history: kept a while for ops, then expire.
SETTLED_RESERVATION_SECONDS = 90 * 24 * 3600
MAX_TRANSACTION_ITEMS = 100
MISSING_ORDER_RETENTION_SECONDS = 30 * 24 * 3600
BATCH_GET_KEYS = 100
_ORDER_KEYS = ("shop_id", "order_id")


class DynamoOrderStore:
    def __init__(self, client: DynamoDBClient, orders_table: str, reservations_table: str) -> None:
        self._client = client
        self._orders = orders_table
        self._reservations = reservations_table

    # ------------------------------------------------------------------ reads

    def get_many(self, shop_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]:
        ids = list(dict.fromkeys(order_ids))
        found: dict[str, StoredOrder] = {}
        for start in range(0, len(ids), BATCH_GET_KEYS):
            keys: list[Any] = [
                {"shop_id": {"S": shop_id}, "order_id": {"S": i}}
                for i in ids[start : start + BATCH_GET_KEYS]
            ]
            request: dict[str, Any] = {self._orders: {"Keys": keys, "ConsistentRead": True}}
            while request:
                reply = _call(self._client.batch_get_item, RequestItems=request)
                for item in reply.get("Responses", {}).get(self._orders, []):
                    stored = _stored_order(item)
                    found[stored.record.order_id] = stored
                request = dict(reply.get("UnprocessedKeys") or {})
        return found

    def get(self, shop_id: str, order_id: str) -> StoredOrder | None:
        reply = _call(
            self._client.get_item,
            TableName=self._orders,
            Key={"shop_id": {"S": shop_id}, "order_id": {"S": order_id}},
            ConsistentRead=True,
        )
        item = reply.get("Item")
        return _stored_order(item) if item else None

    def with_pending_events(self, shop_id: str, older_than_ms: int) -> list[StoredOrder]:
        order_ids = [
            item["order_id"]["S"]
            for item in self._query_index(
                PENDING_EVENTS_INDEX,
                "shop_id = :shop AND pending_since < :before",
                {":shop": {"S": shop_id}, ":before": {"N": str(older_than_ms)}},
            )
        ]
        return list(self.get_many(shop_id, order_ids).values())

    def due_to_ship(self, shop_id: str, before: int) -> list[ShipDue]:
        return [
            ShipDue(
                order_id=item["order_id"]["S"],
                ship_by=int(item["ship_by"]["N"]),
                status=item.get("status", {}).get("S", ""),
            )
            for item in self._query_index(
                SHIP_DEADLINE_INDEX,
                "shop_id = :shop AND ship_by < :before",
                {":shop": {"S": shop_id}, ":before": {"N": str(before)}},
            )
        ]

    def reservations(self, shop_id: str, sku_id: str) -> list[Reservation]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._reservations,
            "KeyConditionExpression": "shop_sku = :key",
            "ExpressionAttributeValues": {":key": {"S": _shop_sku(shop_id, sku_id)}},
            "ConsistentRead": True,
        }
        while True:
            reply = _call(self._client.query, **request)
            items.extend(reply.get("Items", []))
            if not reply.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        return [reservation_from_item(item) for item in items]

    def order_ids(self, shop_id: str, buyer_user_ids: Sequence[str] | None = None) -> list[str]:
        """The shop's order ids; with `buyer_user_ids`, those whose buyer.user_id is one of
        them (a query of the shop's partition: the privacy erasure's lookup)."""
        request: dict[str, Any] = {
            "TableName": self._orders,
            "KeyConditionExpression": "shop_id = :shop",
            "ExpressionAttributeValues": {":shop": {"S": shop_id}},
            "ProjectionExpression": "order_id",
            "ConsistentRead": True,
        }
        if buyer_user_ids is not None:
            users = {f":u{i}": {"S": user_id} for i, user_id in enumerate(buyer_user_ids)}
            if not users:
                return []
            request["FilterExpression"] = f"buyer.user_id IN ({', '.join(users)})"
            request["ExpressionAttributeValues"].update(users)
        ids: list[str] = []
        while True:
            reply = _call(self._client.query, **request)
            ids.extend(item["order_id"]["S"] for item in reply.get("Items", []))
            if not reply.get("LastEvaluatedKey"):
                return ids
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def finished_before(self, update_time_before: int) -> Iterator[tuple[str, str]]:
        """(shop_id, order_id) of COMPLETED/CANCELLED orders last updated before the time whose
        buyer data is not erased yet (a paged scan: the retention sweep's daily lookup)."""
        request: dict[str, Any] = {
            "TableName": self._orders,
            "ProjectionExpression": "shop_id, order_id",
            "FilterExpression": (
                "#status IN (:completed, :cancelled) AND update_time < :before AND "
                "(attribute_not_exists(buyer.erased_at) OR attribute_type(buyer.erased_at, :null))"
            ),
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":completed": {"S": "COMPLETED"},
                ":cancelled": {"S": "CANCELLED"},
                ":before": {"N": str(update_time_before)},
                ":null": {"S": "NULL"},
            },
        }
        while True:
            reply = _call(self._client.scan, **request)
            for item in reply.get("Items", []):
                yield item["shop_id"]["S"], item["order_id"]["S"]
            if not reply.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    # ------------------------------------------------------------------ writes

    def replace(self, stored: StoredOrder, expected_revision: int) -> bool:
        """Put `stored` (reservations untouched) if the item is still at `expected_revision`:
        the privacy erasure's write; False when order sync wrote meanwhile (re-read)."""
        try:
            self._client.put_item(
                TableName=self._orders,
                Item=_order_item(stored),
                ConditionExpression="revision = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected_revision)}},
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise StorageUnavailableError(_error_code(exc)) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        return True

    def write(self, write: OrderWrite) -> bool:
        put_order: dict[str, Any] = {
            "TableName": self._orders,
            "Item": _order_item(write.stored),
        }
        if write.expected_revision is None:
            put_order["ConditionExpression"] = "attribute_not_exists(order_id)"
        else:
            put_order["ConditionExpression"] = "revision = :expected"
            put_order["ExpressionAttributeValues"] = {
                ":expected": {"N": str(write.expected_revision)}
            }
        now = int(time.time())
        reservation_puts: list[Any] = [
            {"Put": {"TableName": self._reservations, "Item": _reservation_item(r, now)}}
            for r in write.reservations
        ]
        atomic = reservation_puts[: MAX_TRANSACTION_ITEMS - 1]
        try:
            transaction: list[Any] = [{"Put": put_order}, *atomic]
            self._client.transact_write_items(TransactItems=transaction)
        except ClientError as exc:
            code = _error_code(exc)
            if code == "TransactionCanceledException":
                reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
                if reasons & {"ConditionalCheckFailed", "TransactionConflict"}:
                    return False
            raise StorageUnavailableError(code) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        # An order with more SKUs than one transaction holds (TikTok caps order lines far
        # below this): the rest follows right after, derived from the same winning state.
        for extra in reservation_puts[MAX_TRANSACTION_ITEMS - 1 :]:
            _call(self._client.put_item, **extra["Put"])
        return True

    def clear_pending(
        self,
        shop_id: str,
        order_id: str,
        event_ids: Sequence[str],
        *,
        retried_at_ms: int | None = None,
    ) -> None:
        key = {"shop_id": {"S": shop_id}, "order_id": {"S": order_id}}
        if not event_ids:
            if retried_at_ms is not None:
                _call(
                    self._client.update_item,
                    TableName=self._orders,
                    Key=key,
                    UpdateExpression="SET pending_since = :at",
                    ConditionExpression="attribute_exists(pending_since)",
                    ExpressionAttributeValues={":at": {"N": str(retried_at_ms)}},
                    tolerate_condition_failure=True,
                )
            return
        names = {f"#e{i}": event_id for i, event_id in enumerate(event_ids)}
        removals = ", ".join(f"pending_events.{name}" for name in names)
        reply = _call(
            self._client.update_item,
            TableName=self._orders,
            Key=key,
            UpdateExpression=f"REMOVE {removals} SET revision = revision + :one",
            ConditionExpression="attribute_exists(order_id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
            tolerate_condition_failure=True,
        )
        attributes = reply.get("Attributes") or {}
        if "pending_since" not in attributes:
            return
        if attributes.get("pending_events", {}).get("M"):
            if retried_at_ms is not None:  # unless someone wrote meanwhile
                _call(
                    self._client.update_item,
                    TableName=self._orders,
                    Key=key,
                    UpdateExpression="SET pending_since = :at",
                    ConditionExpression="revision = :seen",
                    ExpressionAttributeValues={
                        ":seen": attributes["revision"],
                        ":at": {"N": str(retried_at_ms)},
                    },
                    tolerate_condition_failure=True,
                )
            return
        # Nothing left to publish: leave the pending index, unless someone wrote meanwhile.
        _call(
            self._client.update_item,
            TableName=self._orders,
            Key=key,
            UpdateExpression="REMOVE pending_since",
            ConditionExpression="revision = :seen",
            ExpressionAttributeValues={":seen": attributes["revision"]},
            tolerate_condition_failure=True,
        )

    def _query_index(
        self, index: str, condition: str, values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._orders,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        while True:
            reply = _call(self._client.query, **request)
            items.extend(reply.get("Items", []))
            if not reply.get("LastEvaluatedKey"):
                return items
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


class DynamoWatermarkStore:
    """The poll's per-shop watermark (highest order update_time it has seen)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, shop_id: str) -> int | None:
        reply = _call(
            self._client.get_item,
            TableName=self._table,
            Key={"pk": {"S": _watermark_key(shop_id)}},
            ConsistentRead=True,
        )
        item = reply.get("Item") or {}
        # An item without update_time: held before the first watermark was ever set.
        return int(item["update_time"]["N"]) if "update_time" in item else None

    def advance(self, shop_id: str, update_time: int) -> None:
        key = {"pk": {"S": _watermark_key(shop_id)}}
        _call(
            self._client.update_item,
            TableName=self._table,
            Key=key,
            UpdateExpression="SET update_time = :t, shop_id = :shop REMOVE held_runs, held_by",
            ConditionExpression="attribute_not_exists(update_time) OR update_time < :t",
            ExpressionAttributeValues={":t": {"N": str(update_time)}, ":shop": {"S": shop_id}},
            tolerate_condition_failure=True,
        )
        # Not moved (nothing newer seen) but nothing failed either: the hold is over.
        _call(
            self._client.update_item,
            TableName=self._table,
            Key=key,
            UpdateExpression="REMOVE held_runs, held_by",
            ConditionExpression="attribute_exists(held_runs)",
            tolerate_condition_failure=True,
        )

    def hold(self, shop_id: str, order_ids: Sequence[str], now: int) -> int:
        reply = _call(
            self._client.update_item,
            TableName=self._table,
            Key={"pk": {"S": _watermark_key(shop_id)}},
            UpdateExpression=(
                "SET held_runs = if_not_exists(held_runs, :zero) + :one, held_by = :ids, "
                "held_at = :now, shop_id = :shop"
            ),
            ExpressionAttributeValues={
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":ids": {"L": [{"S": i} for i in order_ids]},
                ":now": {"N": str(now)},
                ":shop": {"S": shop_id},
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(reply["Attributes"]["held_runs"]["N"])

    def advance_past(
        self, shop_id: str, update_time: int, skipped_order_ids: Sequence[str], now: int
    ) -> None:
        _call(
            self._client.update_item,
            TableName=self._table,
            Key={"pk": {"S": _watermark_key(shop_id)}},
            UpdateExpression=(
                "SET skipped_order_ids = :ids, skipped_at = :now, shop_id = :shop "
                "REMOVE held_runs, held_by"
            ),
            ExpressionAttributeValues={
                ":ids": {"L": [{"S": i} for i in skipped_order_ids]},
                ":now": {"N": str(now)},
                ":shop": {"S": shop_id},
            },
        )
        self.advance(shop_id, update_time)


class DynamoMissingOrderLedger:
    """Orders Get Order Detail left out, in SyncStateTable (kept 30 days for ops)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def note_missing(self, shop_id: str, order_id: str, now: int) -> MissingOrder:
        reply = _call(
            self._client.update_item,
            TableName=self._table,
            Key={"pk": {"S": _missing_key(shop_id, order_id)}},
            UpdateExpression=(
                "SET attempts = if_not_exists(attempts, :zero) + :one, "
                "first_missing_at = if_not_exists(first_missing_at, :now), "
                "last_missing_at = :now, shop_id = :shop, order_id = :order, expires_at = :expires"
            ),
            ExpressionAttributeValues={
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":now": {"N": str(now)},
                ":shop": {"S": shop_id},
                ":order": {"S": order_id},
                ":expires": {"N": str(now + MISSING_ORDER_RETENTION_SECONDS)},
            },
            ReturnValues="ALL_NEW",
        )
        attributes = reply["Attributes"]
        return MissingOrder(
            attempts=int(attributes["attempts"]["N"]),
            first_missing_at=int(attributes["first_missing_at"]["N"]),
        )

    def forget(self, shop_id: str, order_ids: Sequence[str]) -> None:
        """Delete the miss counts of these orders: a batch read finds the few that have one
        (most found orders never went missing), only those are deleted."""
        ids = list(dict.fromkeys(order_ids))
        noted: list[str] = []
        for start in range(0, len(ids), BATCH_GET_KEYS):
            keys: list[Any] = [
                {"pk": {"S": _missing_key(shop_id, i)}} for i in ids[start : start + BATCH_GET_KEYS]
            ]
            request: dict[str, Any] = {
                self._table: {"Keys": keys, "ProjectionExpression": "pk", "ConsistentRead": True}
            }
            while request:
                reply = _call(self._client.batch_get_item, RequestItems=request)
                noted.extend(
                    item["pk"]["S"] for item in reply.get("Responses", {}).get(self._table, [])
                )
                request = dict(reply.get("UnprocessedKeys") or {})
        for pk in noted:
            _call(self._client.delete_item, TableName=self._table, Key={"pk": {"S": pk}})


# ---------------------------------------------------------------- items


def _order_item(stored: StoredOrder) -> dict[str, Any]:
    record = stored.record
    facts = record.model_dump(mode="json")
    item = {name: to_attribute(value) for name, value in facts.items()}
    item["revision"] = {"N": str(stored.revision)}
    item["content_hash"] = {"S": record.content_hash}
    item["pending_events"] = {"M": {k: {"S": v} for k, v in stored.pending_events.items()}}
    if stored.pending_events and stored.pending_since_ms is not None:
        item["pending_since"] = {"N": str(stored.pending_since_ms)}
    ship_by = record.ship_by
    if ship_by is not None:
        item["ship_by"] = {"N": str(ship_by)}  # sparse: only orders still to ship are indexed
    return item


def _stored_order(item: dict[str, Any]) -> StoredOrder:
    plain = {name: from_attribute(value) for name, value in item.items()}
    pending = plain.pop("pending_events", None) or {}
    pending_since = plain.pop("pending_since", None)
    revision = int(plain.pop("revision"))
    for bookkeeping in ("content_hash", "ship_by"):
        plain.pop(bookkeeping, None)
    return StoredOrder(
        record=OrderRecord.model_validate(_plain_numbers(plain)),
        revision=revision,
        pending_events={str(k): str(v) for k, v in pending.items()},
        pending_since_ms=int(pending_since) if pending_since is not None else None,
    )


def _plain_numbers(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the record's numbers are all integers."""
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return int(value)
    return value


def _shop_sku(shop_id: str, sku_id: str) -> str:
    return f"{shop_id}#{sku_id}"


def _reservation_item(reservation: Reservation, now: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "shop_sku": {"S": _shop_sku(reservation.shop_id, reservation.sku_id)},
        "order_id": {"S": reservation.order_id},
        "shop_id": {"S": reservation.shop_id},
        "sku_id": {"S": reservation.sku_id},
        "state": {"S": reservation.state.value},
        "units": {"N": str(reservation.units)},
        "ordered_units": {"N": str(reservation.ordered_units)},
        "ordered_at": {"N": str(reservation.ordered_at)},
        "order_status": {"S": reservation.order_status},
        "order_update_time": {"N": str(reservation.order_update_time)},
        "updated_at": {"N": str(now)},
    }
    if reservation.state is not ReservationState.HELD:
        item["expires_at"] = {"N": str(now + SETTLED_RESERVATION_SECONDS)}
    return item


def reservation_from_item(item: dict[str, Any]) -> Reservation:
    """A ReservationsTable item as its model (shared with the stock ledger's reads)."""
    return Reservation(
        shop_id=item["shop_id"]["S"],
        sku_id=item["sku_id"]["S"],
        order_id=item["order_id"]["S"],
        state=ReservationState(item["state"]["S"]),
        units=int(item["units"]["N"]),
        ordered_units=int(item["ordered_units"]["N"]),
        ordered_at=int(item["ordered_at"]["N"]),
        order_status=item["order_status"]["S"],
        order_update_time=int(item["order_update_time"]["N"]),
    )


def _missing_key(shop_id: str, order_id: str) -> str:
    return f"order-missing#{shop_id}#{order_id}"


def _watermark_key(shop_id: str) -> str:
    return f"orders-watermark#{shop_id}"


def _call(operation: Any, *, tolerate_condition_failure: bool = False, **request: Any) -> Any:
    try:
        return operation(**request)
    except ClientError as exc:
        code = _error_code(exc)
        if tolerate_condition_failure and code == "ConditionalCheckFailedException":
            return {}
        raise StorageUnavailableError(code) from exc
    except BotoCoreError as exc:
        raise StorageUnavailableError(type(exc).__name__) from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))
