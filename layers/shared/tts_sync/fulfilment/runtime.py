"""Configuration and container-wide wiring of the tracking upload function: cached factories
and the one override for tests (tts_sync.wiring)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from tts_sync.audit.runtime import audit_dependencies
from tts_sync.aws import dynamodb_client, events_client, sqs_client
from tts_sync.config import load_config
from tts_sync.fulfilment.dynamo_store import DynamoFulfilmentStore
from tts_sync.fulfilment.ports import FulfilmentApi, FulfilmentStore, ShopTarget
from tts_sync.fulfilment.upload import DEFAULT_LEASE_SECONDS, UploadContext
from tts_sync.orders.dynamo_store import DynamoOrderStore
from tts_sync.orders.sync import SyncContext
from tts_sync.outbound import EventBridgePublisher
from tts_sync.shops.ports import ShopStore
from tts_sync.shops.runtime import shop_api_client, shop_store
from tts_sync.wiring import Wiring


class TrackingUploadConfig(BaseModel):
    fulfilment_table_name: str = Field(alias="FULFILMENT_TABLE_NAME", min_length=1)
    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)
    reservations_table_name: str = Field(alias="RESERVATIONS_TABLE_NAME", min_length=1)
    event_bus_name: str = Field(alias="OUTBOUND_EVENT_BUS_NAME", min_length=1)
    lease_seconds: float = Field(
        default=DEFAULT_LEASE_SECONDS, alias="TTS_UPLOAD_LEASE_SECONDS", gt=0
    )


class StoreShopDirectory:
    """Connected shops' API access and market, from the Shops table."""

    def __init__(self, store: ShopStore) -> None:
        self._store = store

    def target(self, shop_id: str) -> ShopTarget | None:
        shop = self._store.get(shop_id)
        if shop is None or not shop.usable:
            return None
        return ShopTarget(access=shop.access(), region=shop.region)


class SqsVisibility:
    """Sets how long a received message stays invisible (ON_HOLD: until the hold ends)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def delay(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        _, _, _, _region, account, name = queue_arn.split(":", 5)
        url = self._client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        self._client.change_message_visibility(
            QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )


@dataclass(frozen=True)
class TrackingUploadDependencies:
    upload: UploadContext
    store: FulfilmentStore
    logistics_api: Callable[[], FulfilmentApi]
    visibility: Any = None  # SqsVisibility; None: messages come back after the queue's timeout


def _default_dependencies() -> TrackingUploadDependencies:
    config = load_config(TrackingUploadConfig)
    client = dynamodb_client()
    store = DynamoFulfilmentStore(client, config.fulfilment_table_name)
    orders = DynamoOrderStore(client, config.orders_table_name, config.reservations_table_name)
    publisher = EventBridgePublisher(events_client(), config.event_bus_name)
    return TrackingUploadDependencies(
        upload=UploadContext(
            store=store,
            sync=SyncContext(store=orders, publisher=publisher, clock=time.time),
            shops=StoreShopDirectory(shop_store()),
            api=shop_api_client,
            clock=time.time,
            lease_seconds=config.lease_seconds,
            audit=audit_dependencies().log,
        ),
        store=store,
        logistics_api=shop_api_client,
        visibility=SqsVisibility(sqs_client()),
    )


tracking_upload_dependencies = Wiring(_default_dependencies)
override_dependencies = tracking_upload_dependencies.override
