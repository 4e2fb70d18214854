"""DynamoDB adapter of the EventStore port: one conditional PutItem per delivery.

The Events table's stream is what queues stored events for processing, so "stored" and
"queued" are one atomic fact. Throttling and service errors surface as StorageUnavailableError
so the handler answers 5xx and TikTok retries: never a 2xx without a durable write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from tts_sync.errors import StorageRejectedError, StorageUnavailableError
from tts_sync.events import StoredEvent
from tts_sync.webhooks.intake import QuarantinedDelivery

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


class DynamoEventStore:
    def __init__(self, client: DynamoDBClient, events_table: str, quarantine_table: str) -> None:
        self._client = client
        self._events_table = events_table
        self._quarantine_table = quarantine_table

    def put_if_absent(self, event: StoredEvent) -> bool:
        try:
            self._client.put_item(
                TableName=self._events_table,
                Item=event.to_item(),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            code = _error_code(exc)
            if code == "ConditionalCheckFailedException":
                return False
            if code == "ValidationException":
                message = str(exc.response.get("Error", {}).get("Message", ""))[:200]
                raise StorageRejectedError(
                    f"DynamoDB refused the event: {code}: {message}"
                ) from exc
            raise StorageUnavailableError(code) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc
        return True

    def quarantine(self, delivery: QuarantinedDelivery) -> None:
        # Keyed by the body's hash: TikTok's retries of the same bad body land on one record.
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": f"webhook:{delivery.body_sha256}"},
            "source": {"S": "webhook"},
            "reason": {"S": delivery.reason},
            "received_at": {"S": delivery.received_at.isoformat()},
            "raw_body": {"B": delivery.raw_body},
            "size_bytes": {"N": str(len(delivery.raw_body))},
            "expires_at": {"N": str(delivery.expires_at)},
        }
        try:
            self._client.put_item(TableName=self._quarantine_table, Item=item)
        except ClientError as exc:
            raise StorageUnavailableError(_error_code(exc)) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(type(exc).__name__) from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))
