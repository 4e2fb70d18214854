"""Privacy erasure against the moto server: every table the erasure touches, created from
template.yaml's own definitions, the pseudonym key in Secrets Manager, the real adapters."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.integration.orders.conftest import create_tables
from tests.support import FakeLambdaContext, load_function
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tests.unit.privacy.builders import SHOP_ID, order_id_of, order_record
from tts_sync.container import reset_container
from tts_sync.orders.dynamo_store import DynamoOrderStore
from tts_sync.orders.models import OrderRecord, StoredOrder
from tts_sync.orders.ports import OrderWrite
from tts_sync.privacy.dynamo_store import (
    DynamoEventPayloadStore,
    DynamoQuarantineStore,
    DynamoReceiptStore,
    StoreShopConnections,
)
from tts_sync.privacy.erasure import ErasureContext
from tts_sync.privacy.runtime import (
    PrivacyConfig,
    PrivacyDependencies,
    SecretsManagerPseudonymKey,
    override_dependencies,
)
from tts_sync.shops.dynamo_store import DynamoShopStore

TABLES = (
    "OrdersTable",
    "ReservationsTable",
    "EventsTable",
    "QuarantineTable",
    "ShopsTable",
    "PrivacyRequestsTable",
)
PSEUDONYM_KEY = "test-pseudonym-key-" + "x" * 40


@dataclass
class PrivacyStack:
    dynamodb: Any
    tables: dict[str, str]
    orders: DynamoOrderStore
    shops: DynamoShopStore
    receipts: DynamoReceiptStore
    publisher: MemoryEventPublisher
    context: ErasureContext
    config: PrivacyConfig
    clock: list[float]

    def use(self, context: ErasureContext | None = None) -> None:
        """Wire the function's entry points to this stack (optionally with other parts)."""
        override_dependencies(
            PrivacyDependencies(erasure=context or self.context, config=self.config)
        )

    def seed_order(self, record: OrderRecord, pending: dict[str, str] | None = None) -> None:
        stored = StoredOrder(
            record=record,
            revision=1,
            pending_events=pending or {},
            pending_since_ms=1 if pending else None,
        )
        assert self.orders.write(OrderWrite(stored=stored, expected_revision=None, reservations=[]))

    def seed_event(self, key: str, payload: dict[str, Any], shop_id: str = SHOP_ID) -> None:
        self.dynamodb.put_item(
            TableName=self.tables["EventsTable"],
            Item={
                "pk": {"S": key},
                "shop_id": {"S": shop_id},
                "event_type": {"N": str(payload.get("type", 1))},
                "payload": {"S": json.dumps(payload)},
                "expires_at": {"N": str(int(time.time()) + 86_400)},
            },
        )

    def seed_quarantine(self, key: str, body: bytes) -> None:
        self.dynamodb.put_item(
            TableName=self.tables["QuarantineTable"],
            Item={"pk": {"S": key}, "raw_body": {"B": body}, "reason": {"S": "bad"}},
        )

    def seed_buyers(self, *buyers: int) -> None:
        """Per buyer: two orders, a stored webhook naming the first, a quarantined body
        naming the second (a full erasure: OrdersTable 2, EventsTable 1, QuarantineTable 1)."""
        for n in buyers:
            self.seed_order(order_record(n))
            self.seed_order(order_record(n, 1))
            self.seed_event(
                f"n-{n}", {"type": 1, "shop_id": SHOP_ID, "data": {"order_id": order_id_of(n)}}
            )
            self.seed_quarantine(
                f"webhook:{n}", json.dumps({"data": {"order_id": order_id_of(n, 1)}}).encode()
            )

    def scan(self, logical_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self.tables[logical_id]}
        while True:
            reply = self.dynamodb.scan(**request)
            items.extend(reply["Items"])
            if "LastEvaluatedKey" not in reply:
                return items
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def everything(self) -> str:
        """Every item of every table, as text (binary bodies decoded): what a PII scan reads."""
        parts = []
        for logical_id in self.tables:
            for item in self.scan(logical_id):
                for value in item.values():
                    if "B" in value:
                        parts.append(bytes(value["B"]).decode("utf-8", errors="replace"))
                parts.append(json.dumps(item, default=str))
        return "\n".join(parts)

    def send(self, *bodies: str) -> dict[str, Any]:
        """One SQS batch of these bodies through the function's entry point."""
        return self.invoke({"Records": [_sqs_record(body) for body in bodies]})

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """One event (an SQS batch as Lambda builds it) through the function's entry point."""
        app = load_function("privacy_deletion")
        result: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext(remaining_ms=300_000))
        return result

    def job(self, event: dict[str, Any]) -> dict[str, Any]:
        app = load_function("privacy_deletion")
        result: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext(remaining_ms=300_000))
        return result


def _sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:PrivacyDeletionQueue",
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def privacy_stack(aws_endpoint: str) -> Iterator[PrivacyStack]:
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    tables = create_tables(dynamodb, *TABLES)
    secret = boto3.client("secretsmanager", endpoint_url=aws_endpoint).create_secret(
        Name=f"privacy-key-{uuid.uuid4().hex[:8]}", SecretString=PSEUDONYM_KEY
    )
    config = PrivacyConfig.model_validate(
        {
            "PRIVACY_REQUESTS_TABLE_NAME": tables["PrivacyRequestsTable"],
            "ORDERS_TABLE_NAME": tables["OrdersTable"],
            "RESERVATIONS_TABLE_NAME": tables["ReservationsTable"],
            "EVENTS_TABLE_NAME": tables["EventsTable"],
            "QUARANTINE_TABLE_NAME": tables["QuarantineTable"],
            "OUTBOUND_EVENT_BUS_NAME": "unused-in-tests",
            "PRIVACY_PSEUDONYM_KEY_SECRET_ARN": secret["ARN"],
        }
    )
    clock = [time.time()]
    orders = DynamoOrderStore(dynamodb, tables["OrdersTable"], tables["ReservationsTable"])
    shops = DynamoShopStore(dynamodb, tables["ShopsTable"])
    receipts = DynamoReceiptStore(dynamodb, tables["PrivacyRequestsTable"])
    publisher = MemoryEventPublisher()
    context = ErasureContext(
        receipts=receipts,
        orders=orders,
        events=DynamoEventPayloadStore(dynamodb, tables["EventsTable"]),
        quarantine=DynamoQuarantineStore(dynamodb, tables["QuarantineTable"]),
        shops=StoreShopConnections(shops),
        publisher=publisher,
        pseudonym_key=SecretsManagerPseudonymKey(secret["ARN"]),
        clock=lambda: clock[0],
        lease_seconds=360,
    )
    reset_container()
    stack = PrivacyStack(
        dynamodb, tables, orders, shops, receipts, publisher, context, config, clock
    )
    stack.use()
    yield stack
    override_dependencies(None)
    reset_container()


def buyer_request(n: int, request_id: str | None = None, **fields: Any) -> str:
    from tests.unit.privacy.builders import buyer_of

    body = {
        "request_id": request_id or f"dsr-{n:05d}",
        "shop_id": SHOP_ID,
        "scope": "buyer",
        "buyer_user_id": buyer_of(n).user_id,
        "requested_at": "2026-12-01T10:00:00Z",
        "requester": "privacy-portal",
        **fields,
    }
    return json.dumps(body)
