"""SQS event source mapping: long-poll, batch, invoke, delete only what succeeded.

Failed messages are simply not deleted: they reappear after the visibility timeout and moto's
RedrivePolicy (maxReceiveCount) moves them to the DLQ on a later receive, as SQS does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from tts_local.stack.aws_clients import MotoClients
from tts_local.stack.background import BackgroundLoop
from tts_local.stack.event_filters import compile_filters, passes
from tts_local.stack.functions import Invocation

log = logging.getLogger(__name__)


class SqsMapping(BackgroundLoop):
    def __init__(
        self,
        *,
        logical_id: str,
        properties: dict[str, Any],
        queue_url: str,
        invoke: Callable[[Any], Invocation],
        clients: MotoClients,
        poll_wait_seconds: float,
    ) -> None:
        self.logical_id = logical_id
        self.queue_arn = properties["EventSourceArn"]
        self.queue_url = queue_url
        self.batch_size = int(properties.get("BatchSize", 10))
        self.window_seconds = float(properties.get("MaximumBatchingWindowInSeconds", 0))
        self.reports_failures = "ReportBatchItemFailures" in (
            properties.get("FunctionResponseTypes") or []
        )
        self.enabled = str(properties.get("Enabled", True)).lower() != "false"
        self._filters = compile_filters(properties.get("FilterCriteria"))
        self._invoke = invoke
        self._sqs = clients.client("sqs")
        self._region = clients.region
        self._wait = max(0, min(20, round(poll_wait_seconds)))
        super().__init__(f"sqs-{logical_id}")

    def start(self) -> None:
        if self.enabled:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._collect_batch()
                if messages:
                    self.deliver(messages)
            except Exception as exc:
                if self._stop.is_set():
                    return
                self._report_failure(log, f"SQS mapping {self.logical_id} poll", exc)
                self._stop.wait(1)
            else:
                self._report_success(log, f"SQS mapping {self.logical_id} poll")

    def _collect_batch(self) -> list[dict[str, Any]]:
        messages = self._receive(self._wait)
        deadline = time.monotonic() + self.window_seconds
        while messages and len(messages) < self.batch_size and time.monotonic() < deadline:
            more = self._receive(0)
            if not more:
                self._stop.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            messages.extend(more)
        return messages

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, self.batch_size),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def deliver(self, messages: list[dict[str, Any]]) -> None:
        records = [self._record(message) for message in messages]
        wanted = [record for record in records if passes(self._filters, record)]
        # Lambda deletes messages its filters drop: they never reach the function.
        self._delete([r for r in records if r not in wanted])
        if not wanted:
            return
        result = self._invoke({"Records": wanted})
        failed = self._failed_ids(result, wanted)
        self._delete([record for record in wanted if record["messageId"] not in failed])
        if failed:
            log.info(
                "%s: %d of %d messages left for retry", self.logical_id, len(failed), len(wanted)
            )

    def _failed_ids(self, result: Invocation, records: list[dict[str, Any]]) -> set[str]:
        everything = {record["messageId"] for record in records}
        if not result.ok:
            return everything
        if not self.reports_failures or not isinstance(result.payload, dict):
            return set()
        failures = result.payload.get("batchItemFailures") or []
        try:
            ids = {str(item["itemIdentifier"]) for item in failures}
        except (TypeError, KeyError):
            return everything
        # An identifier that is not in the batch makes Lambda fail the whole batch.
        return ids if ids <= everything else everything

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                    for index, record in enumerate(chunk)
                ],
            )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: _message_attribute(value)
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self._region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute (StringValue...) -> Lambda event attribute (stringValue...)."""
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        import base64

        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute
