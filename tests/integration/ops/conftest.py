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
