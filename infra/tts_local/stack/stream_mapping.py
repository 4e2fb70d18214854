"""DynamoDB stream event source mapping, read from moto's dynamodbstreams API.

Per shard: read records from the mapping's start position, invoke in batches, and checkpoint like
Lambda does: a failed item (ReportBatchItemFailures) means "retry from that sequence number";
a function error retries the batch (split in halves with BisectBatchOnFunctionError). After
MaximumRetryAttempts the batch is dropped and described on the OnFailure SQS destination.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tts_local.stack.aws_clients import MotoClients
from tts_local.stack.background import BackgroundLoop
from tts_local.stack.event_filters import compile_filters, passes
from tts_local.stack.functions import Invocation

log = logging.getLogger(__name__)


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0  # failed tries of the batch at the head of `pending`


class StreamMapping(BackgroundLoop):
    def __init__(
        self,
        *,
        logical_id: str,
        properties: dict[str, Any],
        function_arn: str,
        invoke: Callable[[Any], Invocation],
        clients: MotoClients,
        poll_interval_seconds: float,
    ) -> None:
        self.logical_id = logical_id
        self.stream_arn = properties["EventSourceArn"]
        self.batch_size = int(properties.get("BatchSize", 100))
        self.start_position = properties.get("StartingPosition", "LATEST")
        self.max_retries = int(properties.get("MaximumRetryAttempts", -1))
        self.bisect = bool(properties.get("BisectBatchOnFunctionError", False))
        self.reports_failures = "ReportBatchItemFailures" in (
            properties.get("FunctionResponseTypes") or []
        )
        self.enabled = str(properties.get("Enabled", True)).lower() != "false"
        on_failure = (properties.get("DestinationConfig") or {}).get("OnFailure") or {}
        self.failure_destination: str | None = on_failure.get("Destination")
        self._filters = compile_filters(properties.get("FilterCriteria"))
        self._function_arn = function_arn
        self._invoke = invoke
        self._clients = clients
        self._streams = clients.client("dynamodbstreams")
        self._interval = poll_interval_seconds
        self._shards: dict[str, _Shard] = {}
        super().__init__(f"stream-{logical_id}")

    def start(self) -> None:
        if not self.enabled:
            return
        # Read the start position now, so LATEST means "records written after the stack started".
        self._discover_shards()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._discover_shards()
                busy = any(self._poll(shard) for shard in list(self._shards.values()))
            except Exception as exc:
                if self._stop.is_set():
                    return
                self._report_failure(log, f"stream mapping {self.logical_id} poll", exc)
                busy = False
            else:
                self._report_success(log, f"stream mapping {self.logical_id} poll")
            if not busy:
                self._stop.wait(self._interval)

    def _discover_shards(self) -> None:
        description = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._shards:
                continue
            iterator_type = "TRIM_HORIZON" if self.start_position == "TRIM_HORIZON" else "LATEST"
            iterator = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=iterator_type
            )["ShardIterator"]
            self._shards[shard_id] = _Shard(shard_id, iterator)

    def _poll(self, shard: _Shard) -> bool:
        """Reads new records and works through one batch; True when there was work."""
        if shard.iterator and len(shard.pending) < self.batch_size:
            response = self._streams.get_records(ShardIterator=shard.iterator, Limit=1000)
            shard.iterator = response.get("NextShardIterator")
            for record in response.get("Records", []):
                record["eventSourceARN"] = self.stream_arn
                if passes(self._filters, record):
                    shard.pending.append(_jsonable(record))
        if not shard.pending:
            return False
        # After a failure, wait one interval before the retry (Lambda backs off too).
        return self._process(shard, shard.pending[: self.batch_size])

    def _process(self, shard: _Shard, batch: list[dict[str, Any]]) -> bool:
        """Invokes one batch and checkpoints; True when the whole batch succeeded."""
        result = self._invoke({"Records": batch})
        failed_from = self._first_failure(result, batch)
        if failed_from is None:
            self._drop(shard, len(batch))
            return True
        if failed_from > 0:  # items before the failure are checkpointed, retry starts at it
            self._drop(shard, failed_from)
            shard.attempts = 0
        shard.attempts += 1
        remaining = shard.pending[: len(batch) - failed_from]
        if not result.ok and self.bisect and len(remaining) > 1:
            self._bisect(shard, remaining)
        elif 0 <= self.max_retries < shard.attempts:
            self._give_up(shard, remaining, result)
        return False

    def _bisect(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        """Retry each half separately so one poison record cannot block its neighbours."""
        half = len(batch) // 2
        for part in (batch[:half], batch[half:]):
            outcome = self._invoke({"Records": part})
            if self._first_failure(outcome, part) is not None:
                if 0 <= self.max_retries < shard.attempts:
                    self._give_up(shard, part, outcome)
                return  # retry from this half next poll
            self._drop(shard, len(part))
            shard.attempts = 0

    def _first_failure(self, result: Invocation, batch: list[dict[str, Any]]) -> int | None:
        """Index of the first record to retry, or None when the whole batch succeeded."""
        if not result.ok:
            return 0
        if not self.reports_failures or not isinstance(result.payload, dict):
            return None
        failures = result.payload.get("batchItemFailures") or []
        numbers = [record["dynamodb"]["SequenceNumber"] for record in batch]
        indexes = []
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if identifier not in numbers:
                return 0  # an unknown identifier fails the whole batch, as in Lambda
            indexes.append(numbers.index(identifier))
        return min(indexes) if indexes else None

    def _drop(self, shard: _Shard, count: int) -> None:
        del shard.pending[:count]
        shard.attempts = 0

    def _give_up(self, shard: _Shard, batch: list[dict[str, Any]], result: Invocation) -> None:
        log.warning(
            "%s: dropping %d record(s) after %d attempts",
            self.logical_id,
            len(batch),
            shard.attempts,
        )
        if self.failure_destination:
            self._send_failure_record(shard, batch, result)
        self._drop(shard, len(batch))

    def _send_failure_record(
        self, shard: _Shard, batch: list[dict[str, Any]], result: Invocation
    ) -> None:
        arrivals = [record["dynamodb"].get("ApproximateCreationDateTime") for record in batch]
        document = {
            "requestContext": {
                "requestId": result.request_id,
                "functionArn": self._function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": shard.attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "" if result.ok else "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(arrivals[0]),
                "approximateArrivalOfLastRecord": _iso(arrivals[-1]),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        sqs = self._clients.client("sqs")
        queue_name = str(self.failure_destination).rsplit(":", 1)[-1]
        queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(document))


def _iso(value: Any) -> str | None:
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return None if value is None else str(value)


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    """boto3 parses ApproximateCreationDateTime into a datetime; Lambda sends epoch seconds."""
    dynamodb = dict(record.get("dynamodb", {}))
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    out = dict(record)
    out["dynamodb"] = dynamodb
    out.pop("ResponseMetadata", None)
    out.setdefault("eventID", uuid.uuid4().hex)
    return out
