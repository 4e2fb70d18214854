"""FulfilmentTable adapter: the carrier map and overrides, settings, upload claims, refusals.

Items (pk shop_id, sk fulfilment_key):
- carrier#map: the providers per delivery option (JSON), and when they were built.
- carrier#override#<delivery_option_id or *>#<normalised name>: one override.
- settings: the shop's fulfilment settings.
- upload#<business key>: the idempotency claim of one upload (in progress with a lease, or
  done with its outcome); done claims expire after 90 days.
- refusal#<business key or message id>: the latest refusal, with its code and reason (TTL 30 d).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tts_sync.errors import StorageUnavailableError
from tts_sync.fulfilment.models import (
    CarrierMap,
    CarrierOverride,
    CarrierProvider,
    FulfilmentSettings,
    Refusal,
    UploadClaim,
    normalise_carrier,
)
from tts_sync.fulfilment.ports import ClaimResult

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REFUSAL_RETENTION_SECONDS = 30 * 24 * 3600
DONE_CLAIM_RETENTION_SECONDS = 90 * 24 * 3600
SORT_KEY = "fulfilment_key"
_MAP_KEY = "carrier#map"
_OVERRIDE_PREFIX = "carrier#override#"


class DynamoFulfilmentStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    # ------------------------------------------------------------------ carriers

    def carrier_map(self, shop_id: str) -> CarrierMap:
        providers: list[CarrierProvider] = []
        overrides: list[CarrierOverride] = []
        built_at: int | None = None
        for item in self._query(shop_id, "carrier#"):
            key = item[SORT_KEY]["S"]
            if key == _MAP_KEY:
                providers = [
                    CarrierProvider.model_validate(p) for p in json.loads(item["providers"]["S"])
                ]
                built_at = int(item["built_at"]["N"])
            elif key.startswith(_OVERRIDE_PREFIX):
                overrides.append(CarrierOverride.model_validate_json(item["override"]["S"]))
        return CarrierMap(
            shop_id=shop_id, providers=providers, overrides=overrides, built_at=built_at
        )

    def save_providers(
        self, shop_id: str, providers: Sequence[CarrierProvider], built_at: int
    ) -> None:
        body = json.dumps([p.model_dump() for p in providers], separators=(",", ":"))
        _call(
            self._client.put_item,
            TableName=self._table,
            Item={
                **_key(shop_id, _MAP_KEY),
                "providers": {"S": body},
                "built_at": {"N": str(built_at)},
            },
        )

    def save_override(self, shop_id: str, override: CarrierOverride) -> None:
        _call(
            self._client.put_item,
            TableName=self._table,
            Item={
                **_key(shop_id, _override_key(override.carrier, override.delivery_option_id)),
                "override": {"S": override.model_dump_json()},
            },
        )

    def delete_override(self, shop_id: str, carrier: str, delivery_option_id: str) -> bool:
        reply = _call(
            self._client.delete_item,
            TableName=self._table,
            Key=_key(shop_id, _override_key(carrier, delivery_option_id)),
            ReturnValues="ALL_OLD",
        )
        return bool(reply.get("Attributes"))

    def settings(self, shop_id: str) -> FulfilmentSettings:
        reply = _call(
            self._client.get_item,
            TableName=self._table,
            Key=_key(shop_id, "settings"),
            ConsistentRead=True,
        )
        item = reply.get("Item")
        if not item:
            return FulfilmentSettings()
        return FulfilmentSettings.model_validate_json(item["settings"]["S"])

    def save_settings(self, shop_id: str, settings: FulfilmentSettings) -> None:
        _call(
            self._client.put_item,
            TableName=self._table,
            Item={**_key(shop_id, "settings"), "settings": {"S": settings.model_dump_json()}},
        )

    # ------------------------------------------------------------------ uploads

    def claim(
        self, shop_id: str, business_key: str, now: float, lease_seconds: float
    ) -> ClaimResult:
        key = _key(shop_id, f"upload#{business_key}")
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **key,
                    "business_key": {"S": business_key},
                    "status": {"S": "in_progress"},
                    "lease_expires_at": {"N": repr(now + lease_seconds)},
                },
                ConditionExpression=(
                    "attribute_not_exists(fulfilment_key) OR "
                    "(#status = :in_progress AND lease_expires_at < :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": "in_progress"},
                    ":now": {"N": repr(now)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise StorageUnavailableError(_error_code(exc)) from exc
            old: Any = exc.response.get("Item")
            item = dict(old) if old else self._get(key)
            claim = _claim(item) if item else None
            done = claim is not None and claim.status == "done"
            return ClaimResult("done" if done else "busy", claim)
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        return ClaimResult("claimed")

    def finish(self, shop_id: str, business_key: str, outcome: str, package_id: str) -> None:
        _call(
            self._client.put_item,
            TableName=self._table,
            Item={
                **_key(shop_id, f"upload#{business_key}"),
                "business_key": {"S": business_key},
                "status": {"S": "done"},
                "outcome": {"S": outcome},
                "package_id": {"S": package_id},
                "expires_at": {"N": str(int(time.time()) + DONE_CLAIM_RETENTION_SECONDS)},
            },
        )

    def release(self, shop_id: str, business_key: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_key(shop_id, f"upload#{business_key}"),
                ConditionExpression="#status = :in_progress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":in_progress": {"S": "in_progress"}},
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise StorageUnavailableError(_error_code(exc)) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc

    def claim_of(self, shop_id: str, business_key: str) -> UploadClaim | None:
        item = self._get(_key(shop_id, f"upload#{business_key}"))
        return _claim(item) if item else None

    def record_refusal(self, refusal: Refusal) -> None:
        name = refusal.order_id and f"{refusal.order_id}#{refusal.tracking_number}"
        item: dict[str, Any] = {
            **_key(refusal.shop_id or "-", f"refusal#{name or refusal.message_id}"),
            "refusal": {"S": refusal.model_dump_json()},
            "expires_at": {"N": str(int(time.time()) + REFUSAL_RETENTION_SECONDS)},
        }
        _call(self._client.put_item, TableName=self._table, Item=item)

    def refusals(self, shop_id: str) -> list[Refusal]:
        found = [
            Refusal.model_validate_json(item["refusal"]["S"])
            for item in self._query(shop_id or "-", "refusal#")
        ]
        return sorted(found, key=lambda r: r.refused_at)

    # ------------------------------------------------------------------ helpers

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        reply = _call(self._client.get_item, TableName=self._table, Key=key, ConsistentRead=True)
        item = reply.get("Item")
        return dict(item) if item else None

    def _query(self, shop_id: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "shop_id = :shop AND begins_with(fulfilment_key, :prefix)",
            "ExpressionAttributeValues": {":shop": {"S": shop_id}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            reply = _call(self._client.query, **request)
            items.extend(reply.get("Items", []))
            if not reply.get("LastEvaluatedKey"):
                return items
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def _override_key(carrier: str, delivery_option_id: str) -> str:
    return f"{_OVERRIDE_PREFIX}{delivery_option_id or '*'}#{normalise_carrier(carrier)}"


def _key(shop_id: str, sort_key: str) -> dict[str, Any]:
    return {"shop_id": {"S": shop_id}, SORT_KEY: {"S": sort_key}}


def _claim(item: dict[str, Any]) -> UploadClaim:
    return UploadClaim(
        business_key=item.get("business_key", {}).get("S", ""),
        status=item.get("status", {}).get("S", ""),
        lease_expires_at=float(item.get("lease_expires_at", {}).get("N", "0")),
        outcome=item.get("outcome", {}).get("S", ""),
        package_id=item.get("package_id", {}).get("S", ""),
    )


def _call(operation: Any, **request: Any) -> Any:
    try:
        return operation(**request)
    except ClientError as exc:
        raise StorageUnavailableError(_error_code(exc)) from exc
    except BotoCoreError as exc:
        raise StorageUnavailableError(type(exc).__name__) from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))
