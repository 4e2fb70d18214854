"""Configuration and container-wide wiring of the privacy deletion function (tts_sync.wiring)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from tts_sync.aws import dynamodb_client, events_client, secretsmanager_client
from tts_sync.config import load_config
from tts_sync.container import container_cached
from tts_sync.errors import ConfigError, CredentialsUnavailableError
from tts_sync.orders.dynamo_store import DynamoOrderStore
from tts_sync.outbound import EventBridgePublisher
from tts_sync.privacy.dynamo_store import (
    DynamoEventPayloadStore,
    DynamoQuarantineStore,
    DynamoReceiptStore,
    StoreShopConnections,
)
from tts_sync.privacy.erasure import DEFAULT_LEASE_SECONDS, ErasureContext
from tts_sync.shops.runtime import shop_store
from tts_sync.wiring import Wiring

DAY = 86_400
MIN_KEY_BYTES = 32


class PrivacyConfig(BaseModel):
    requests_table_name: str = Field(alias="PRIVACY_REQUESTS_TABLE_NAME", min_length=1)
    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)
    reservations_table_name: str = Field(alias="RESERVATIONS_TABLE_NAME", min_length=1)
    events_table_name: str = Field(alias="EVENTS_TABLE_NAME", min_length=1)
    quarantine_table_name: str = Field(alias="QUARANTINE_TABLE_NAME", min_length=1)
    event_bus_name: str = Field(alias="OUTBOUND_EVENT_BUS_NAME", min_length=1)
    pseudonym_key_secret_id: str = Field(alias="PRIVACY_PSEUDONYM_KEY_SECRET_ARN", min_length=1)
    # A request not completed this long after it was received raises PrivacyDeletionOverdue.
    deadline_seconds: int = Field(default=7 * DAY, alias="TTS_PRIVACY_DEADLINE_SECONDS", gt=0)
    # A deauthorized shop's order PII is erased this long after deauthorization (a seller who
    # authorizes again within it keeps the history).
    deauthorization_grace_seconds: int = Field(
        default=30 * DAY, alias="TTS_PRIVACY_DEAUTHORIZATION_GRACE_SECONDS", ge=0
    )
    # Buyer data of orders completed or cancelled longer ago than this is erased.
    retention_seconds: int = Field(default=90 * DAY, alias="TTS_PRIVACY_RETENTION_SECONDS", gt=0)
    lease_seconds: int = Field(
        default=DEFAULT_LEASE_SECONDS, alias="TTS_PRIVACY_LEASE_SECONDS", gt=0
    )


class SecretsManagerPseudonymKey:
    """The pseudonymisation key, read once per container from Secrets Manager."""

    def __init__(self, secret_id: str) -> None:
        self._secret_id = secret_id

    def __call__(self) -> bytes:
        return _read_key(self._secret_id)


@container_cached
def _read_key(secret_id: str) -> bytes:
    try:
        reply = secretsmanager_client().get_secret_value(SecretId=secret_id)
    except (ClientError, BotoCoreError) as exc:
        raise CredentialsUnavailableError(
            f"pseudonym key unreadable: {type(exc).__name__}"
        ) from exc
    key = reply.get("SecretString", "").encode()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"pseudonym key secret holds fewer than {MIN_KEY_BYTES} bytes")
    return key


@dataclass(frozen=True)
class PrivacyDependencies:
    erasure: ErasureContext
    config: PrivacyConfig


def _default_dependencies() -> PrivacyDependencies:
    config = load_config(PrivacyConfig)
    client = dynamodb_client()
    return PrivacyDependencies(
        erasure=ErasureContext(
            receipts=DynamoReceiptStore(client, config.requests_table_name),
            orders=DynamoOrderStore(
                client, config.orders_table_name, config.reservations_table_name
            ),
            events=DynamoEventPayloadStore(client, config.events_table_name),
            quarantine=DynamoQuarantineStore(client, config.quarantine_table_name),
            shops=StoreShopConnections(shop_store()),
            publisher=EventBridgePublisher(events_client(), config.event_bus_name),
            pseudonym_key=SecretsManagerPseudonymKey(config.pseudonym_key_secret_id),
            clock=time.time,
            lease_seconds=config.lease_seconds,
        ),
        config=config,
    )


privacy_dependencies = Wiring(_default_dependencies)
override_dependencies = privacy_dependencies.override
