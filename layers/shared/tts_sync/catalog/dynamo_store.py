"""CatalogTable adapter: one item per catalog entry (`catalog_key` = product#<id> for listings);
rejected listings are also keyed by `rejected_shop_id` so ops list them with one query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tts_sync.catalog.listing import Listing, ListingStatus
from tts_sync.errors import StorageUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REJECTED_LISTINGS_INDEX = "RejectedListingsIndex"


class DynamoListingStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, shop_id: str, product_id: str) -> Listing | None:
        try:
            reply = self._client.get_item(
                TableName=self._table, Key=_key(shop_id, product_id), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        item = reply.get("Item")
        return _listing(item) if item and "listing_status" in item else None

    def save_if_newer(self, listing: Listing) -> bool:
        values: dict[str, Any] = {
            ":product": {"S": listing.product_id},
            ":status": {"S": listing.status.value},
            ":tiktok": {"S": listing.tiktok_status},
            ":reason": {"S": listing.reason},
            ":time": {"N": str(listing.update_time)},
        }
        update = (
            "SET product_id = :product, listing_status = :status, tiktok_status = :tiktok, "
            "listing_reason = :reason, listing_update_time = :time"
        )
        if listing.status is ListingStatus.REJECTED:
            update += ", rejected_shop_id = :shop"
            values[":shop"] = {"S": listing.shop_id}
        else:
            update += " REMOVE rejected_shop_id"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(listing.shop_id, listing.product_id),
                UpdateExpression=update,
                ConditionExpression=(
                    "attribute_not_exists(listing_update_time) OR listing_update_time < :time "
                    "OR (listing_update_time = :time AND tiktok_status < :tiktok)"
                ),
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StorageUnavailableError(type(exc).__name__) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        return True

    def rejected(self, shop_id: str) -> list[Listing]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": REJECTED_LISTINGS_INDEX,
            "KeyConditionExpression": "rejected_shop_id = :shop",
            "ExpressionAttributeValues": {":shop": {"S": shop_id}},
        }
        try:
            while True:
                reply = self._client.query(**request)
                items.extend(reply.get("Items", []))
                if not reply.get("LastEvaluatedKey"):
                    break
                request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        return [_listing(item) for item in items]


def _key(shop_id: str, product_id: str) -> dict[str, Any]:
    return {"shop_id": {"S": shop_id}, "catalog_key": {"S": f"product#{product_id}"}}


def _listing(item: dict[str, Any]) -> Listing:
    return Listing(
        shop_id=item["shop_id"]["S"],
        product_id=item["product_id"]["S"],
        status=ListingStatus(item["listing_status"]["S"]),
        tiktok_status=item.get("tiktok_status", {}).get("S", ""),
        reason=item.get("listing_reason", {}).get("S", ""),
        update_time=int(item["listing_update_time"]["N"]),
    )
