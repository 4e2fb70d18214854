"""The privacy act of the demo on the local stack: a buyer deletion request on
PrivacyDeletionQueue runs through the SQS mapping into PrivacyDeletionFunction (its own worker,
the template's environment, the pseudonym key generated into the local Secrets Manager), and
its receipt shows up; an invalid request gets a rejected receipt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.unit.privacy.builders import SHOP_ID, order_id_of, order_record
from tts_local.demo_privacy import run_privacy_act
from tts_local.stack import LocalStack
from tts_sync.orders.dynamo_store import DynamoOrderStore
from tts_sync.orders.models import StoredOrder
from tts_sync.orders.ports import OrderWrite

TEMPLATE = Path(__file__).parents[3] / "template.yaml"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Lambda's 10 s init limit, relaxed: on a shared, loaded machine a cold worker importing
    # Powertools and boto3 took longer than that (this test is about the flow, not init time).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tts_local.stack.functions.INIT_TIMEOUT_SECONDS", 40.0)
        with LocalStack(TEMPLATE, port=0) as running:
            yield running


@pytest.mark.timeout(300)
def test_the_demo_privacy_act_erases_one_order_and_shows_its_receipt(stack: LocalStack) -> None:
    ready = stack.ready_info
    endpoint = ready["aws_endpoint_url"]
    env = stack.client_environment()
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    resources = ready["resources"]
    store = DynamoOrderStore(dynamodb, resources["OrdersTable"], resources["ReservationsTable"])
    stored = StoredOrder(record=order_record(41), revision=1)
    assert store.write(OrderWrite(stored=stored, expected_revision=None, reservations=[]))

    lines: list[str] = []
    assert run_privacy_act(ready, SHOP_ID, dynamodb, sqs, lines.append) == 0, "\n".join(lines)
    output = "\n".join(lines)
    assert "completed; erased EventsTable 0, OrdersTable 1, QuarantineTable 0" in output
    assert f"order {order_id_of(41)}: buyer data erased, user id pseudonymised" in output
    assert "rejected (buyer.order_ids.0: Input should be a valid string)" in output
    erased = store.get(SHOP_ID, order_id_of(41))
    assert erased is not None and erased.record.buyer.user_id.startswith("psn_")
    assert erased.record.payment == stored.record.payment
