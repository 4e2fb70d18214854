"""DynamoDB adapters of ShopStore and OAuthStateStore.

Shops table: pk = shop_id, one item per shop, updated in place (UpdateItem, never a blind Put),
encrypted at rest with the stack's customer-managed KMS key (template.yaml). Refreshed tokens
are written only if the stored access token expires earlier, so a slow refresher can never
replace newer tokens with older ones, and (given the refresh token the refresh used) only while
the shop still holds that grant, so an old grant's refresh answering late never overwrites a new
consent. A new consent's tokens are written unconditionally. Every write bumps `version`.

The refresh lease is per grant: shops of one seller (open_id) share one lease item,
pk = "refresh-lease#<open_id>" (lease_until, holder; released by removing both, so the
functions need no DeleteItem), so sibling shops never refresh their shared grant twice. A shop
without an open_id keeps the lease on its own item. shop_ids() skips lease items.

OAuth state table: pk = state, expires_at (TTL, and checked on use because TTL deletion lags).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tts_sync.errors import StorageUnavailableError
from tts_sync.shops.models import (
    REASON_REFRESH_REFUSED,
    REASON_REFRESH_TOKEN_EXPIRED,
    OAuthState,
    Shop,
    ShopNotUsableError,
    ShopStatus,
    ShopTokens,
    SubscriptionStatus,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = Mapping[str, Any]
_CONDITION_FAILED = "ConditionalCheckFailedException"
LEASE_KEY_PREFIX = "refresh-lease#"


class _ConditionFailed(Exception):
    pass


@contextmanager
def _dynamo_errors() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
        if code == _CONDITION_FAILED:
            raise _ConditionFailed from None
        raise StorageUnavailableError(code) from exc
    except BotoCoreError as exc:
        raise StorageUnavailableError(type(exc).__name__) from exc


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


class DynamoShopStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ------------------------------------------------------------------ reads

    def get(self, shop_id: str) -> Shop | None:
        with _dynamo_errors():
            response = self._client.get_item(
                TableName=self._table, Key={"pk": _s(shop_id)}, ConsistentRead=True
            )
        item = response.get("Item")
        return shop_from_item(item) if item else None

    def shop_ids(self) -> list[str]:
        # Soonest-expiring access token first, shops without tokens last: a run that stops at
        # its deadline leaves the shops with the most time, not the same unlucky tail.
        paginator = self._client.get_paginator("scan")
        found: list[tuple[float, str]] = []
        with _dynamo_errors():
            for page in paginator.paginate(
                TableName=self._table,
                ProjectionExpression="pk, access_token_expires_at",
                ConsistentRead=True,
            ):
                for item in page.get("Items", []):
                    if str(item["pk"]["S"]).startswith(LEASE_KEY_PREFIX):
                        continue  # a grant's refresh lease, not a shop
                    expires = int(item.get("access_token_expires_at", {}).get("N", "0"))
                    found.append((expires or float("inf"), str(item["pk"]["S"])))
        return [shop_id for _, shop_id in sorted(found)]

    # ------------------------------------------------------------------ writes

    def save_authorization(self, shop: Shop) -> Shop:
        assert shop.tokens is not None
        names = {"#status": "status", "#name": "name", "#region": "region"}
        values: dict[str, Any] = {
            ":cipher": _s(shop.cipher),
            ":name": _s(shop.name),
            ":region": _s(shop.region),
            ":code": _s(shop.code),
            ":open_id": _s(shop.open_id),
            ":seller_name": _s(shop.seller_name),
            ":status": _s(ShopStatus.ACTIVE.value),
            ":reason": _s(""),
            ":authorized_at": _n(shop.authorized_at),
            ":now": _n(shop.updated_at),
            ":zero": _n(0),
            ":one": _n(1),
        }
        identity = (
            "cipher = :cipher, #name = :name, #region = :region, code = :code, "
            "open_id = :open_id, seller_name = :seller_name, #status = :status, "
            "status_reason = :reason, authorized_at = :authorized_at, updated_at = :now, "
            "version = if_not_exists(version, :zero) + :one"
        )
        tokens = (
            ", access_token = :at, access_token_expires_at = :at_exp, "
            "refresh_token = :rt, refresh_token_expires_at = :rt_exp"
        )
        # A new consent is authoritative: its tokens replace whatever is stored, even tokens
        # that expire later (they may belong to a grant the seller just replaced or that lapsed).
        with _dynamo_errors():
            response = self._client.update_item(
                TableName=self._table,
                Key={"pk": _s(shop.shop_id)},
                UpdateExpression="SET " + identity + tokens + " REMOVE authorization_expires_at",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, **_token_values(shop.tokens)},
                ReturnValues="ALL_NEW",
            )
        return shop_from_item(response["Attributes"])

    def save_tokens(
        self, shop_id: str, tokens: ShopTokens, now: int, *, refreshed_with: str | None = None
    ) -> Shop:
        # A refresh that worked proves the grant is alive: a shop waiting for consent because a
        # refresh failed becomes active again in the same write. Two attempts, each one atomic
        # UpdateItem: the usual case (no such reason) succeeds first time.
        fresher = (
            "attribute_exists(pk) AND #status <> :deauthorized AND "
            "(attribute_not_exists(access_token_expires_at) OR access_token_expires_at < :at_exp)"
        )
        grant_values: dict[str, Any] = {}
        if refreshed_with is not None:
            # Only over the grant that was refreshed: a new consent meanwhile wins.
            fresher += " AND refresh_token = :used_rt"
            grant_values[":used_rt"] = _s(refreshed_with)
        refresh_wait = "(#status = :reauth AND status_reason IN (:rt_expired, :refused))"
        values = {
            **_token_values(tokens),
            ":now": _n(now),
            ":one": _n(1),
            ":deauthorized": _s(ShopStatus.DEAUTHORIZED.value),
            ":reauth": _s(ShopStatus.REAUTHORIZATION_REQUIRED.value),
            ":rt_expired": _s(REASON_REFRESH_TOKEN_EXPIRED),
            ":refused": _s(REASON_REFRESH_REFUSED),
            **grant_values,
        }
        update = (
            "SET access_token = :at, access_token_expires_at = :at_exp, "
            "refresh_token = :rt, refresh_token_expires_at = :rt_exp, "
            "updated_at = :now, version = version + :one"
        )
        attempts = (
            (update, f"{fresher} AND NOT {refresh_wait}", values),
            (
                update + ", #status = :active, status_reason = :empty",
                f"{fresher} AND {refresh_wait}",
                {**values, ":active": _s(ShopStatus.ACTIVE.value), ":empty": _s("")},
            ),
        )
        for expression, condition, attribute_values in attempts:
            try:
                with _dynamo_errors():
                    response = self._client.update_item(
                        TableName=self._table,
                        Key={"pk": _s(shop_id)},
                        UpdateExpression=expression,
                        ConditionExpression=condition,
                        ExpressionAttributeNames={"#status": "status"},
                        ExpressionAttributeValues=attribute_values,
                        ReturnValues="ALL_NEW",
                    )
                return shop_from_item(response["Attributes"])
            except _ConditionFailed:
                continue
        stored = self.get(shop_id)
        if stored is None or not stored.usable:
            raise ShopNotUsableError(shop_id, stored.status if stored else None) from None
        return stored  # newer tokens were already stored by someone else

    def save_grant_tokens(
        self, open_id: str, refresh_token: str, tokens: ShopTokens, now: int, except_shop_id: str
    ) -> int:
        # A scan: a seller's shops are few and this runs about once a week per grant. A GSI on
        # open_id would replace it if the table grows large.
        paginator = self._client.get_paginator("scan")
        siblings: list[str] = []
        with _dynamo_errors():
            for page in paginator.paginate(
                TableName=self._table,
                ProjectionExpression="pk",
                FilterExpression="open_id = :open_id AND refresh_token = :rt",
                ExpressionAttributeValues={":open_id": _s(open_id), ":rt": _s(refresh_token)},
                ConsistentRead=True,
            ):
                siblings.extend(str(item["pk"]["S"]) for item in page.get("Items", []))
        updated = 0
        for shop_id in siblings:
            if shop_id == except_shop_id:
                continue
            try:
                self.save_tokens(shop_id, tokens, now, refreshed_with=refresh_token)
            except ShopNotUsableError:
                continue  # deauthorized meanwhile
            updated += 1
        return updated

    def acquire_refresh_lease(
        self, shop_id: str, holder: str, now: int, seconds: int
    ) -> Shop | None:
        shop = self.get(shop_id)
        if shop is None:
            return None
        if not shop.open_id:
            return self._lease_shop_item(shop_id, holder, now, seconds)
        try:
            with _dynamo_errors():
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(_lease_key(shop.open_id))},
                    UpdateExpression="SET lease_until = :until, holder = :holder",
                    ConditionExpression="attribute_not_exists(lease_until) OR lease_until <= :now",
                    ExpressionAttributeValues={
                        ":until": _n(now + seconds),
                        ":holder": _s(holder),
                        ":now": _n(now),
                    },
                )
        except _ConditionFailed:
            return None
        # Read again under the lease: what a refresher finishing just before us stored.
        return self.get(shop_id)

    def _lease_shop_item(self, shop_id: str, holder: str, now: int, seconds: int) -> Shop | None:
        try:
            with _dynamo_errors():
                response = self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(shop_id)},
                    UpdateExpression=(
                        "SET refresh_lease_until = :until, refresh_lease_holder = :holder"
                    ),
                    ConditionExpression=(
                        "attribute_exists(pk) AND (attribute_not_exists(refresh_lease_until) "
                        "OR refresh_lease_until <= :now)"
                    ),
                    ExpressionAttributeValues={
                        ":until": _n(now + seconds),
                        ":holder": _s(holder),
                        ":now": _n(now),
                    },
                    ReturnValues="ALL_NEW",
                )
        except _ConditionFailed:
            return None
        return shop_from_item(response["Attributes"])

    def release_refresh_lease(self, shop_id: str, holder: str) -> None:
        shop = self.get(shop_id)
        if shop is not None and shop.open_id:
            try:
                # UpdateItem, not DeleteItem: the functions may only Get/Update/Scan shops.
                with _dynamo_errors():
                    self._client.update_item(
                        TableName=self._table,
                        Key={"pk": _s(_lease_key(shop.open_id))},
                        UpdateExpression="REMOVE lease_until, holder",
                        ConditionExpression="holder = :holder",
                        ExpressionAttributeValues={":holder": _s(holder)},
                    )
            except _ConditionFailed:
                pass  # lapsed and taken by someone else: theirs now
            return
        try:
            with _dynamo_errors():
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(shop_id)},
                    UpdateExpression="REMOVE refresh_lease_until, refresh_lease_holder",
                    ConditionExpression="refresh_lease_holder = :holder",
                    ExpressionAttributeValues={":holder": _s(holder)},
                )
        except _ConditionFailed:
            return  # lapsed and taken by someone else: theirs now

    def save_subscriptions(
        self, shop_id: str, address: str, subscriptions: Mapping[str, SubscriptionStatus], now: int
    ) -> None:
        try:
            with _dynamo_errors():
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(shop_id)},
                    UpdateExpression=(
                        "SET webhook_address = :address, subscriptions = :subs, "
                        "updated_at = :now, version = version + :one"
                    ),
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={
                        ":address": _s(address),
                        ":subs": {"M": {k: _s(v.value) for k, v in subscriptions.items()}},
                        ":now": _n(now),
                        ":one": _n(1),
                    },
                )
        except _ConditionFailed:
            raise ShopNotUsableError(shop_id, None) from None

    def mark(
        self,
        shop_id: str,
        status: ShopStatus,
        reason: str,
        now: int,
        *,
        event_time: int | None,
        authorization_expires_at: int | None = None,
    ) -> bool:
        update = "SET #status = :status, status_reason = :reason, updated_at = :now, "
        update += "version = version + :one"
        # Only a change counts (and is reported): marking the same status and reason again is
        # a no-op, so repeated refusals or webhooks raise one alarm, not one per call.
        changed = "NOT (#status = :status AND status_reason = :reason)"
        values: dict[str, Any] = {
            ":status": _s(status.value),
            ":reason": _s(reason),
            ":now": _n(now),
            ":one": _n(1),
        }
        if authorization_expires_at is not None:
            update += ", authorization_expires_at = :expires"
            changed = (
                f"({changed} OR attribute_not_exists(authorization_expires_at) "
                "OR authorization_expires_at <> :expires)"
            )
            values[":expires"] = _n(authorization_expires_at)
        if status is ShopStatus.DEAUTHORIZED:
            # Stop using the tokens for good: drop them (a new consent brings new ones).
            update += ", access_token_expires_at = :zero, refresh_token_expires_at = :zero"
            update += " REMOVE access_token, refresh_token"
        condition = "attribute_exists(pk) AND " + changed
        if status is ShopStatus.DEAUTHORIZED:
            values[":zero"] = _n(0)
        else:
            # Only a new consent brings a deauthorized shop back.
            condition += " AND #status <> :deauthorized"
            values[":deauthorized"] = _s(ShopStatus.DEAUTHORIZED.value)
        if event_time is not None:
            condition += " AND authorized_at <= :event_time"
            values[":event_time"] = _n(event_time)
        try:
            with _dynamo_errors():
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(shop_id)},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values,
                )
        except _ConditionFailed:
            return False
        return True


def _lease_key(open_id: str) -> str:
    return LEASE_KEY_PREFIX + open_id


def _token_values(tokens: ShopTokens) -> dict[str, Any]:
    return {
        ":at": _s(tokens.access_token.get_secret_value()),
        ":at_exp": _n(tokens.access_token_expires_at),
        ":rt": _s(tokens.refresh_token.get_secret_value()),
        ":rt_exp": _n(tokens.refresh_token_expires_at),
    }


def shop_from_item(item: Item) -> Shop:
    def text(name: str) -> str:
        return str(item[name]["S"]) if name in item else ""

    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    tokens = None
    if "access_token" in item and "refresh_token" in item:
        tokens = ShopTokens.model_validate(
            {
                "access_token": text("access_token"),
                "access_token_expires_at": number("access_token_expires_at") or 0,
                "refresh_token": text("refresh_token"),
                "refresh_token_expires_at": number("refresh_token_expires_at") or 0,
            }
        )
    subscriptions = {
        event_type: SubscriptionStatus(value["S"])
        for event_type, value in item.get("subscriptions", {}).get("M", {}).items()
    }
    return Shop(
        shop_id=text("pk"),
        cipher=text("cipher"),
        name=text("name"),
        region=text("region"),
        code=text("code"),
        open_id=text("open_id"),
        seller_name=text("seller_name"),
        status=ShopStatus(text("status") or ShopStatus.ACTIVE.value),
        status_reason=text("status_reason"),
        tokens=tokens,
        authorized_at=number("authorized_at") or 0,
        authorization_expires_at=number("authorization_expires_at"),
        webhook_address=text("webhook_address"),
        subscriptions=subscriptions,
        updated_at=number("updated_at") or 0,
        version=number("version") or 0,
    )


class DynamoOAuthStateStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put(self, state: OAuthState) -> None:
        with _dynamo_errors():
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(state.state),
                    "created_at": _n(state.created_at),
                    "expires_at": _n(state.expires_at),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )

    def consume(self, state: str) -> OAuthState | None:
        # One DeleteItem returning the old item: of two concurrent callbacks only one gets it.
        with _dynamo_errors():
            response = self._client.delete_item(
                TableName=self._table, Key={"pk": _s(state)}, ReturnValues="ALL_OLD"
            )
        item = response.get("Attributes")
        if not item:
            return None
        return OAuthState(
            state=state,
            created_at=int(item["created_at"]["N"]),
            expires_at=int(item["expires_at"]["N"]),
        )
