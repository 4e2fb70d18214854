"""Fixtures of the consumers the ops commands work on, for ops tests: order sync's (sandbox,
moto-backed stores, the jobs' environment), the quantity export's, the tracking upload's and
the privacy deletion's; and queue pairs that dead-letter as template.yaml declares them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.integration.fulfilment.conftest import tracking, world  # noqa: F401 - fixtures
from tests.integration.orders.conftest import (  # noqa: F401 - fixtures
    demo,
    dynamo_sync,
    jobs_env,
    sandbox,
)
from tests.integration.privacy.conftest import privacy_stack  # noqa: F401 - fixtures
from tests.integration.stock.conftest import stock  # noqa: F401 - fixtures


def dead_lettered_queue(
    sqs: Any, name: str, max_receive_count: int, **attributes: str
) -> tuple[str, str]:
    """A source queue (these attributes) whose RedrivePolicy sends a message to its own DLQ
    after `max_receive_count` receives; the names get a unique suffix. (source URL, DLQ URL)."""
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"{name}-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    source = sqs.create_queue(
        QueueName=f"{name}-{suffix}", Attributes={**attributes, "RedrivePolicy": policy}
    )["QueueUrl"]
    return source, dlq


def queue_depth(sqs: Any, url: str) -> int:
    """Messages in the queue, visible or in flight."""
    counts = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(counts["ApproximateNumberOfMessages"]) + int(
        counts["ApproximateNumberOfMessagesNotVisible"]
    )


def poison(sqs: Any, dlq: str, count: int, *, throttled_every: int) -> set[str]:
    """`count` messages straight into a DLQ, every `throttled_every`-th one with the reason
    attribute EventBridge sets (ERROR_CODE SQS.Throttled); their bodies."""
    bodies = set()
    for index in range(count):
        body = json.dumps({"n": index})
        attributes = {"ERROR_CODE": {"DataType": "String", "StringValue": "SQS.Throttled"}}
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=body,
            **({"MessageAttributes": attributes} if index % throttled_every == 0 else {}),
        )
        bodies.add(body)
    return bodies


def drain(sqs: Any, url: str) -> list[str]:
    """Every visible message of the queue, received and deleted; their bodies."""
    bodies = []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages"):
        bodies.extend(m["Body"] for m in messages)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
    return bodies
