"""DynamoDB adapters of privacy erasure: receipts (PrivacyRequestsTable), the stored webhooks'
payloads (EventsTable), quarantined bodies (QuarantineTable); and the shop connections, on the
shop store. The order records are erased through tts_sync.orders.dynamo_store (one owner of
the order item's format)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tts_sync.errors import StorageUnavailableError
from tts_sync.privacy.models import DeletionReceipt, ReceiptStatus
from tts_sync.shops.models import ShopStatus
from tts_sync.shops.ports import ShopStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REASON_PRIVACY_REQUEST = "privacy_request"
_RECEIPT_FIELDS = ("status", "scope", "shop_id", "requester", "reason")


class DynamoReceiptStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def open(self, receipt: DeletionReceipt) -> DeletionReceipt:
        item: dict[str, Any] = {
            "pk": {"S": receipt.request_id},
            **{name: {"S": str(getattr(receipt, name))} for name in _RECEIPT_FIELDS},
            "received_at": {"S": receipt.received_at.isoformat()},
            "erased": {"M": {k: {"N": str(v)} for k, v in receipt.erased.items()}},
            "event_published": {"BOOL": False},
        }
        if receipt.requested_at is not None:
            item["requested_at"] = {"S": receipt.requested_at.isoformat()}
        if receipt.completed_at is not None:
            item["completed_at"] = {"S": receipt.completed_at.isoformat()}
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise StorageUnavailableError(_code(exc)) from exc
            existing = self.get(receipt.request_id)
            if existing is None:  # pragma: no cover - receipts are never deleted
                raise StorageUnavailableError("receipt vanished") from exc
            return existing
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        return receipt

    def get(self, request_id: str) -> DeletionReceipt | None:
        reply = _call(
            self._client.get_item,
            TableName=self._table,
            Key={"pk": {"S": request_id}},
            ConsistentRead=True,
        )
        item = reply.get("Item")
        return _receipt(item) if item else None

    def take_lease(self, request_id: str, holder: str, now: int, seconds: int) -> bool:
        reply = _call(
            self._client.update_item,
            TableName=self._table,
            Key={"pk": {"S": request_id}},
            UpdateExpression="SET lease_holder = :holder, lease_until = :until",
            ConditionExpression=(
                "#status = :in_progress AND "
                "(attribute_not_exists(lease_until) OR lease_until < :now)"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":holder": {"S": holder},
                ":until": {"N": str(now + seconds)},
                ":now": {"N": str(now)},
                ":in_progress": {"S": ReceiptStatus.IN_PROGRESS.value},
            },
            ReturnValues="UPDATED_NEW",
            tolerate_condition_failure=True,
        )
        return bool(reply.get("Attributes"))

    def release_lease(self, request_id: str, holder: str) -> None:
        _call(
            self._client.update_item,
            TableName=self._table,
            Key={"pk": {"S": request_id}},
            UpdateExpression="REMOVE lease_holder, lease_until",
            ConditionExpression="lease_holder = :holder",
            ExpressionAttributeValues={":holder": {"S": holder}},
            tolerate_condition_failure=True,
        )

    def record_step(self, request_id: str, store: str, count: int) -> None:
        _call(
            self._client.update_item,
            TableName=self._table,
            Key={"pk": {"S": request_id}},
            UpdateExpression="SET erased.#store = if_not_exists(erased.#store, :count)",
            ExpressionAttributeNames={"#store": store},
            ExpressionAttributeValues={":count": {"N": str(count)}},
        )

    def complete(self, request_id: str, completed_at: datetime) -> DeletionReceipt:
        reply = _call(
            self._client.update_item,
            TableName=self._table,
            Key={"pk": {"S": request_id}},
            UpdateExpression=(
                "SET #status = :completed, completed_at = if_not_exists(completed_at, :at) "
                "REMOVE lease_holder, lease_until"
            ),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":completed": {"S": ReceiptStatus.COMPLETED.value},
                ":at": {"S": completed_at.isoformat()},
            },
            ReturnValues="ALL_NEW",
        )
        return _receipt(reply["Attributes"])

    def mark_published(self, request_id: str) -> None:
        _call(
            self._client.update_item,
            TableName=self._table,
            Key={"pk": {"S": request_id}},
            UpdateExpression="SET event_published = :true",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )

    def in_progress(self) -> list[DeletionReceipt]:
        return [
            _receipt(item)
            for item in _scan(
                self._client,
                TableName=self._table,
                FilterExpression="#status = :in_progress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":in_progress": {"S": ReceiptStatus.IN_PROGRESS.value}},
            )
        ]


class DynamoEventPayloadStore:
    """Stored webhooks of a shop (a filtered scan: the table keeps 30 days of events)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def payloads(self, shop_id: str) -> Iterator[tuple[str, str]]:
        for item in _scan(
            self._client,
            TableName=self._table,
            ProjectionExpression="pk, payload",
            FilterExpression="shop_id = :shop AND attribute_exists(payload)",
            ExpressionAttributeValues={":shop": {"S": shop_id}},
        ):
            yield item["pk"]["S"], item["payload"]["S"]

    def replace_payload(self, key: str, payload: str, erased_at: int) -> None:
        # An UPDATE, not a new item: the stream consumer only acts on INSERTs.
        _call(
            self._client.update_item,
            TableName=self._table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET payload = :payload, erased_at = :at",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":payload": {"S": payload}, ":at": {"N": str(erased_at)}},
            tolerate_condition_failure=True,  # expired meanwhile: nothing left to erase
        )


class DynamoQuarantineStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def bodies(self) -> Iterator[tuple[str, bytes]]:
        for item in _scan(self._client, TableName=self._table, ProjectionExpression="pk, raw_body"):
            yield item["pk"]["S"], bytes(item.get("raw_body", {}).get("B", b""))

    def delete(self, key: str) -> None:
        _call(self._client.delete_item, TableName=self._table, Key={"pk": {"S": key}})


class StoreShopConnections:
    """Shop connections on the shop store: disconnecting is marking deauthorized, which
    drops the tokens (tts_sync.shops)."""

    def __init__(self, store: ShopStore) -> None:
        self._store = store

    def disconnect(self, shop_id: str, now: int) -> bool:
        shop = self._store.get(shop_id)
        if shop is None or shop.status is ShopStatus.DEAUTHORIZED:
            return False
        return self._store.mark(
            shop_id, ShopStatus.DEAUTHORIZED, REASON_PRIVACY_REQUEST, now, event_time=None
        )

    def deauthorized_since(self) -> Mapping[str, int]:
        since: dict[str, int] = {}
        for shop_id in self._store.shop_ids():
            shop = self._store.get(shop_id)
            # A shop-scope request disconnected (and erased) the shop already.
            if (
                shop is not None
                and shop.status is ShopStatus.DEAUTHORIZED
                and shop.status_reason != REASON_PRIVACY_REQUEST
            ):
                since[shop_id] = shop.updated_at
        return since


def _receipt(item: dict[str, Any]) -> DeletionReceipt:
    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return str(value) if value is not None else None

    return DeletionReceipt(
        request_id=item["pk"]["S"],
        status=ReceiptStatus(item["status"]["S"]),
        scope=text("scope") or "",
        shop_id=text("shop_id") or "",
        requester=text("requester") or "",
        reason=text("reason") or "",
        requested_at=text("requested_at"),  # type: ignore[arg-type]
        received_at=text("received_at"),  # type: ignore[arg-type]
        completed_at=text("completed_at"),  # type: ignore[arg-type]
        erased={k: int(v["N"]) for k, v in item.get("erased", {}).get("M", {}).items()},
        event_published=bool(item.get("event_published", {}).get("BOOL", False)),
    )


def _scan(client: DynamoDBClient, **request: Any) -> Iterator[dict[str, Any]]:
    while True:
        reply = _call(client.scan, **request)
        yield from reply.get("Items", [])
        if not reply.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def _call(operation: Any, *, tolerate_condition_failure: bool = False, **request: Any) -> Any:
    try:
        return operation(**request)
    except ClientError as exc:
        if tolerate_condition_failure and _code(exc) == "ConditionalCheckFailedException":
            return {}
        raise StorageUnavailableError(_code(exc)) from exc
    except BotoCoreError as exc:
        raise StorageUnavailableError(type(exc).__name__) from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))
