"""CatalogTable adapters: one item per catalog entry (`catalog_key` = product#<id> for listings,
sku#<sku_id> and seller_sku#<seller_sku> for the catalog map, location#<location_id> for the
warehouse mapping); rejected listings are also keyed by `rejected_shop_id` so ops list them with
one query."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tts_sync.catalog.listing import Listing, ListingStatus
from tts_sync.catalog.models import CatalogSku, WarehouseMapping
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


class DynamoCatalogMap:
    """The catalog map (sku#<sku_id>, plus seller_sku#<seller_sku> pointing at it) and the
    warehouse mapping (location#<location_id>) in CatalogTable."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    # ------------------------------------------------------------------ catalog map

    def skus_by_seller_sku(self, shop_id: str, seller_skus: Iterable[str]) -> dict[str, CatalogSku]:
        by_sku_id = {
            sku_id: seller_sku
            for seller_sku, sku_id in self.seller_sku_pointers(shop_id, seller_skus).items()
            if sku_id  # "" marks a duplicated seller SKU: no pointer
        }
        skus = self.skus_by_id(shop_id, by_sku_id)
        return {by_sku_id[sku_id]: sku for sku_id, sku in skus.items()}

    def skus_by_id(self, shop_id: str, sku_ids: Iterable[str]) -> dict[str, CatalogSku]:
        items = self._batch_get(shop_id, [f"sku#{s}" for s in sku_ids])
        return {sku.sku_id: sku for sku in map(_catalog_sku, items)}

    def seller_sku_pointers(self, shop_id: str, seller_skus: Iterable[str]) -> dict[str, str]:
        """seller SKU -> the SKU id it points at ("" for a seller SKU known to be duplicated)."""
        items = self._batch_get(shop_id, [f"seller_sku#{s}" for s in seller_skus])
        return {item["seller_sku"]["S"]: item["sku_id"]["S"] for item in items}

    def all_skus(self, shop_id: str) -> list[CatalogSku]:
        return [_catalog_sku(item) for item in self._query(shop_id, "sku#")]

    def skus_of_product(self, shop_id: str, product_id: str) -> list[CatalogSku]:
        """Reads the shop's SKU entries (filtered to the product): only for a product TikTok
        says is gone, which is rare."""
        return [
            _catalog_sku(item)
            for item in self._query(shop_id, "sku#")
            if item.get("product_id", {}).get("S") == product_id
        ]

    def save_skus(self, skus: Iterable[CatalogSku]) -> None:
        """Catalog sync: each entry (blocked_reason cleared when TikTok shows it sellable) and
        the seller SKU pointer (only for unique, non-empty seller SKUs)."""
        for sku in skus:
            item: dict[str, Any] = {
                "shop_id": {"S": sku.shop_id},
                "catalog_key": {"S": f"sku#{sku.sku_id}"},
                "sku_id": {"S": sku.sku_id},
                "product_id": {"S": sku.product_id},
                "seller_sku": {"S": sku.seller_sku},
                "sku_status": {"S": sku.status},
                "warehouse_ids": {"L": [{"S": w} for w in sku.warehouse_ids]},
                "quantities": {"M": {w: {"N": str(q)} for w, q in sku.quantities.items()}},
                "blocked_reason": {"S": sku.blocked_reason},
                "synced_at": {"N": str(sku.synced_at)},
            }
            _put(self._client, self._table, item)
            if sku.seller_sku:
                _put(
                    self._client,
                    self._table,
                    {
                        "shop_id": {"S": sku.shop_id},
                        "catalog_key": {"S": f"seller_sku#{sku.seller_sku}"},
                        "seller_sku": {"S": sku.seller_sku},
                        "sku_id": {"S": sku.sku_id},
                    },
                )

    def forget_seller_sku(self, shop_id: str, seller_sku: str) -> None:
        """A duplicated seller SKU: its pointer becomes a marker with no SKU id, so a product
        webhook refreshing one of its SKUs does not point it at that SKU (a guess); the next
        full catalog sync writes a real pointer once only one SKU carries it."""
        _put(
            self._client,
            self._table,
            {
                "shop_id": {"S": shop_id},
                "catalog_key": {"S": f"seller_sku#{seller_sku}"},
                "seller_sku": {"S": seller_sku},
                "sku_id": {"S": ""},
            },
        )

    def block_sku(self, shop_id: str, sku_id: str, reason: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"shop_id": {"S": shop_id}, "catalog_key": {"S": f"sku#{sku_id}"}},
                UpdateExpression="SET blocked_reason = :reason",
                ConditionExpression="attribute_exists(catalog_key)",
                ExpressionAttributeValues={":reason": {"S": reason[:500]}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return
            raise StorageUnavailableError(type(exc).__name__) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc

    # ------------------------------------------------------------------ warehouse mapping

    def mappings(self, shop_id: str) -> dict[str, WarehouseMapping]:
        return {
            m.location_id: m
            for m in (
                WarehouseMapping(
                    shop_id=shop_id,
                    location_id=item["location_id"]["S"],
                    warehouse_id=item["warehouse_id"]["S"],
                    warehouse_name=item.get("warehouse_name", {}).get("S", ""),
                    effect_status=item.get("effect_status", {}).get("S", ""),
                    mapped_at=float(item.get("mapped_at", {}).get("N", "0")),
                )
                for item in self._query(shop_id, "location#")
            )
        }

    def save_mapping(self, mapping: WarehouseMapping) -> None:
        _put(
            self._client,
            self._table,
            {
                "shop_id": {"S": mapping.shop_id},
                "catalog_key": {"S": f"location#{mapping.location_id}"},
                "location_id": {"S": mapping.location_id},
                "warehouse_id": {"S": mapping.warehouse_id},
                "warehouse_name": {"S": mapping.warehouse_name},
                "effect_status": {"S": mapping.effect_status},
                "mapped_at": {"N": str(mapping.mapped_at)},
            },
        )

    def delete_mapping(self, shop_id: str, location_id: str) -> bool:
        try:
            reply = self._client.delete_item(
                TableName=self._table,
                Key={"shop_id": {"S": shop_id}, "catalog_key": {"S": f"location#{location_id}"}},
                ReturnValues="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        return bool(reply.get("Attributes"))

    # ------------------------------------------------------------------ helpers

    def _batch_get(self, shop_id: str, keys: list[str]) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(keys))
        items: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [
                        {"shop_id": {"S": shop_id}, "catalog_key": {"S": k}}
                        for k in wanted[start : start + 100]
                    ],
                    "ConsistentRead": True,
                }
            }
            while request:
                try:
                    reply = self._client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise StorageUnavailableError(type(exc).__name__) from exc
                items.extend(reply.get("Responses", {}).get(self._table, []))
                request = dict(reply.get("UnprocessedKeys") or {})
        return items

    def _query(self, shop_id: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "shop_id = :shop AND begins_with(catalog_key, :prefix)",
            "ExpressionAttributeValues": {":shop": {"S": shop_id}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        try:
            while True:
                reply = self._client.query(**request)
                items.extend(reply.get("Items", []))
                if not reply.get("LastEvaluatedKey"):
                    return items
                request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc


def _put(client: DynamoDBClient, table: str, item: dict[str, Any]) -> None:
    try:
        client.put_item(TableName=table, Item=item)
    except (ClientError, BotoCoreError) as exc:
        raise StorageUnavailableError(type(exc).__name__) from exc


def _catalog_sku(item: dict[str, Any]) -> CatalogSku:
    return CatalogSku(
        shop_id=item["shop_id"]["S"],
        sku_id=item["sku_id"]["S"],
        product_id=item["product_id"]["S"],
        seller_sku=item.get("seller_sku", {}).get("S", ""),
        status=item.get("sku_status", {}).get("S", ""),
        warehouse_ids=[w["S"] for w in item.get("warehouse_ids", {}).get("L", [])],
        quantities={w: int(q["N"]) for w, q in item.get("quantities", {}).get("M", {}).items()},
        blocked_reason=item.get("blocked_reason", {}).get("S", ""),
        synced_at=float(item.get("synced_at", {}).get("N", "0")),
    )
