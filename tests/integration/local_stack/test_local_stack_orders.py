"""Order sync end to end on the real template.yaml in the local stack, against the sandbox: the
demo shop connected through the OAuth routes, ~150 orders' webhooks (a third of them sent
twice, byte-identical as TikTok retries) shuffled and POSTed signed from several threads, 5%
never sent. The Events stream consumer hydrates what arrives; the reconciliation schedule
recovers what did not. Then the records, the reservation ledger and the outbound events must
match the sandbox exactly."""

from __future__ import annotations

import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support import REPO_ROOT
from tts_local.cli import _store_app_credentials
from tts_local.demo import connect_sandbox_shop
from tts_local.sandbox import Sandbox
from tts_local.sandbox.orders import HOUR
from tts_local.sandbox.scenarios import order_traffic
from tts_local.sandbox.seed import DEMO_SHOP_ID
from tts_local.sandbox.webhooks import Notification, WebhookSender
from tts_local.stack import LocalStack, StackSettings
from tts_local.stack_orders import (
    drain_queue,
    expected_held_units,
    held_units_in_ledger,
    stored_orders,
    wait_until,
)
from tts_local.webhook_sender import post_signed

APP_KEY, APP_SECRET = "orders-e2e-key", "orders-e2e-secret"
RECONCILE_RULE = "OrderSyncFunctionReconcile"  # SAM: <function logical id><event name>
# A slice end to end; the 10,000-webhook volume runs in memory and on moto (integration/orders).
ORDERS = 60
SENDER_THREADS = 4


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(APP_KEY, APP_SECRET, port=0) as running:
        running.seed_demo_data()
        yield running


@pytest.fixture(scope="module")
def stack(sandbox: Sandbox) -> Iterator[LocalStack]:
    tiktok = {
        "TTS_API_BASE_URL": sandbox.url,
        "TTS_AUTH_BASE_URL": sandbox.url,
        "TTS_AUTHORIZE_URL": sandbox.url + sandbox.authorize_path,
    }
    settings = StackSettings(sqs_wait_seconds=1, stream_poll_seconds=0.2)
    with LocalStack(
        REPO_ROOT / "template.yaml", port=0, settings=settings, function_env_overrides=tiktok
    ) as running:
        _store_app_credentials(running, APP_KEY, APP_SECRET)
        ready = {**running.ready_info, "sandbox_url": sandbox.url}
        lines: list[str] = []
        with httpx.Client(timeout=30) as client:
            failures = connect_sandbox_shop(ready, client, running.client("dynamodb"), lines.append)
        assert failures == 0, "\n".join(lines)
        yield running


def _deliver_from_threads(url: str, notifications: list[Notification], seed: int) -> list[int]:
    """Each notification once and a third of them again (byte-identical bodies, as TikTok
    retries), shuffled, split over several sender threads; the statuses of every POST."""
    rng = random.Random(seed)
    retried = rng.sample(notifications, len(notifications) // 3)
    copies = [*notifications, *retried]
    rng.shuffle(copies)
    sender = WebhookSender(APP_KEY, APP_SECRET, timeout=30)
    shares = [copies[i::SENDER_THREADS] for i in range(SENDER_THREADS)]
    with ThreadPoolExecutor(max_workers=SENDER_THREADS) as pool:
        results = pool.map(lambda share: sender.deliver(url, share), shares)
        return [delivery.status for deliveries in results for delivery in deliveries]


def _api_orders(sandbox: Sandbox, order_ids: list[str]) -> dict[str, dict[str, Any]]:
    with sandbox.state.lock:
        return {order_id: sandbox.state.orders[order_id].to_api() for order_id in order_ids}


def test_webhooks_and_the_poll_leave_records_reservations_and_events_exact(
    stack: LocalStack, sandbox: Sandbox
) -> None:
    dynamodb, sqs = stack.client("dynamodb"), stack.client("sqs")
    orders_table = stack.physical_id("OrdersTable")
    webhook_url = stack.api_url + "/webhooks/tiktok"
    now = int(time.time())
    # In the recent past: inside the poll's first lookback (a day) and before its settle time.
    traffic = order_traffic(sandbox, DEMO_SHOP_ID, orders=ORDERS, seed=11, start=now - 10 * HOUR)
    order_ids = list(traffic.final_orders)
    rng = random.Random(3)
    # 5% of the webhooks are never sent: every webhook of a few orders (only the poll can
    # find those), and single ones of others (any webhook of an order fetches its latest state).
    never_heard_of = set(rng.sample(order_ids, 4))
    # Orders cancelled later without a webhook: only their latest webhook is sent now, so once
    # their record shows it no record naming them is left in the stream to re-read them.
    cancelled_silently = [
        o
        for o in order_ids
        if o not in never_heard_of and traffic.final_orders[o].status == "AWAITING_SHIPMENT"
    ][:3]
    latest = {_named_order(n): id(n) for n in traffic.notifications}
    lost = {id(n) for n in traffic.notifications if _named_order(n) in never_heard_of}
    lost |= {
        id(n)
        for n in traffic.notifications
        if _named_order(n) in cancelled_silently and id(n) != latest[_named_order(n)]
    }
    others = [
        n
        for n in traffic.notifications
        if id(n) not in lost and _named_order(n) not in cancelled_silently
    ]
    budget = max(0, round(0.05 * len(traffic.notifications)) - len(lost))
    lost |= {id(n) for n in rng.sample(others, budget)}
    sent = [n for n in traffic.notifications if id(n) not in lost]
    assert len(traffic.notifications) >= 150

    statuses = _deliver_from_threads(webhook_url, sent, seed=5)
    assert Counter(statuses) == {200: len(sent) + len(sent) // 3}

    heard_of = [order_id for order_id in order_ids if order_id not in never_heard_of]
    final = _api_orders(sandbox, order_ids)

    def webhooks_applied() -> bool:
        stored = stored_orders(dynamodb, orders_table, DEMO_SHOP_ID)
        return all(
            order_id in stored
            and (stored[order_id].status, stored[order_id].update_time)
            == (final[order_id]["status"], final[order_id]["update_time"])
            for order_id in heard_of
        )

    assert wait_until(webhooks_applied, timeout=40, interval=0.5), _differences(
        stored_orders(dynamodb, orders_table, DEMO_SHOP_ID), final, heard_of
    )

    # Then a few awaiting orders are cancelled and TikTok's cancellation webhooks are lost:
    # records holding an older state that only the poll can bring up to date.
    for order_id in cancelled_silently:
        sandbox.advance_order(order_id, "CANCELLED", notify=False, at=now - 1800)
    final = _api_orders(sandbox, order_ids)

    results = stack.fire_schedule(RECONCILE_RULE)
    assert [result["ok"] for result in results] == [True], results
    summary = results[0]["payload"]
    assert summary["failed_orders"] == 0 and summary["failed_shops"] == []
    assert summary["missed_by_webhooks"] == len(never_heard_of) + len(cancelled_silently)
    assert summary["orders_seen"] == ORDERS

    stored = stored_orders(dynamodb, orders_table, DEMO_SHOP_ID)
    assert {o: (v.status, v.update_time) for o, v in stored.items() if o in final} == {
        o: (order["status"], order["update_time"]) for o, order in final.items()
    }
    assert {o for o, v in stored.items() if v.source == "poll"} == never_heard_of | set(
        cancelled_silently
    )
    ledger = held_units_in_ledger(dynamodb, stack.physical_id("ReservationsTable"), DEMO_SHOP_ID)
    assert ledger == expected_held_units(final.values())

    # Events go out right after each write: once no record holds any, all are on the queue.
    assert wait_until(
        lambda: (
            not any(
                v.has_pending_events
                for v in stored_orders(dynamodb, orders_table, DEMO_SHOP_ID).values()
            )
        ),
        timeout=10,
    )
    bodies = drain_queue(sqs, str(stack.outputs["OutboundEventsQueueUrl"]))
    event_ids = [body["detail"]["event_id"] for body in bodies]
    assert len(event_ids) == len(set(event_ids)), "an outbound event was published twice"
    created = Counter(
        body["detail"]["order_id"] for body in bodies if body["detail-type"] == "Order Created"
    )
    assert created == dict.fromkeys(order_ids, 1)
    cancelled = {
        body["detail"]["order_id"] for body in bodies if body["detail-type"] == "Order Cancelled"
    }
    assert cancelled == {o for o, order in final.items() if order["status"] == "CANCELLED"}


def test_webhook_to_record_latency(stack: LocalStack, sandbox: Sandbox) -> None:
    dynamodb = stack.client("dynamodb")
    orders_table = stack.physical_id("OrdersTable")
    webhook_url = stack.api_url + "/webhooks/tiktok"
    sku = {"sku_id": "1729582718312381002", "product_id": "1729582718312380001", "price": "14"}
    latencies = []
    with httpx.Client(timeout=30) as client:
        for _ in range(5):
            order = sandbox.place_order(DEMO_SHOP_ID, [sku], notify=False)
            for notification in sandbox.notifications_for(order.id):
                body = _body(notification)
                response = post_signed(webhook_url, body, APP_KEY, APP_SECRET, client=client)
                assert response.status_code == 200
            acknowledged = time.perf_counter()
            assert wait_until(
                lambda order_id=order.id: _has_status(dynamodb, orders_table, order_id, "ON_HOLD"),
                timeout=15,
                interval=0.05,
            )
            latencies.append(time.perf_counter() - acknowledged)
    print(
        "\nwebhook-to-record latency (200 -> OrdersTable), 5 orders: "
        + " ".join(f"{s * 1000:.0f}" for s in latencies)
        + f" ms; median {statistics.median(latencies) * 1000:.0f} ms"
    )
    assert max(latencies) < 15


def _body(notification: Notification) -> bytes:
    return json.dumps(notification.envelope(), separators=(",", ":")).encode()


def _has_status(dynamodb: Any, table: str, order_id: str, status: str) -> bool:
    item = dynamodb.get_item(
        TableName=table,
        Key={"shop_id": {"S": DEMO_SHOP_ID}, "order_id": {"S": order_id}},
        ProjectionExpression="#s",
        ExpressionAttributeNames={"#s": "status"},
        ConsistentRead=True,
    ).get("Item")
    return item is not None and item["status"]["S"] == status


def _named_order(notification: Notification) -> str:
    if "order_id" in notification.data:
        return str(notification.data["order_id"])
    return str(notification.data["package_list"][0]["order_id_list"][0])


def _differences(stored: dict[str, Any], final: dict[str, dict[str, Any]], ids: list[str]) -> str:
    wrong = [
        f"{o}: stored {(stored[o].status, stored[o].update_time) if o in stored else None}, "
        f"sandbox {(final[o]['status'], final[o]['update_time'])}"
        for o in ids
        if o not in stored
        or (stored[o].status, stored[o].update_time)
        != (final[o]["status"], final[o]["update_time"])
    ]
    return f"{len(wrong)} orders not as the sandbox has them:\n" + "\n".join(wrong[:20])


def test_an_orders_audit_trail_through_the_demo_act_and_the_cli(
    stack: LocalStack, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's last act and `tts-sync ops audit|show --local`, on this stack's orders."""
    from tts_local.cli import main
    from tts_local.demo_audit import run_audit_act

    dynamodb = stack.client("dynamodb")
    webhook_url = stack.api_url + "/webhooks/tiktok"
    sku = {"sku_id": "1729582718312381002", "product_id": "1729582718312380001", "price": "14"}
    order = sandbox.place_order(DEMO_SHOP_ID, [sku], notify=False)
    sandbox.advance_order(order.id, "CANCELLED", notify=False)
    with httpx.Client(timeout=30) as client:
        for notification in sandbox.notifications_for(order.id):
            response = post_signed(
                webhook_url, _body(notification), APP_KEY, APP_SECRET, client=client
            )
            assert response.status_code == 200
    assert wait_until(
        lambda: _has_status(dynamodb, stack.physical_id("OrdersTable"), order.id, "CANCELLED"),
        timeout=15,
        interval=0.05,
    )
    lines: list[str] = []
    ready = stack.ready_info
    assert run_audit_act(ready, DEMO_SHOP_ID, dynamodb, lines.append) == 0, "\n".join(lines)
    assert any("state_change" in line for line in lines)
    capsys.readouterr()
    assert main(["ops", "audit", "--local", stack.api_url, "--order", order.id]) == 0
    printed = capsys.readouterr().out
    assert "webhook_received" in printed and "-> CANCELLED" in printed
    assert main(["ops", "show", "--local", stack.api_url, "--order", order.id]) == 0
    assert '"status": "CANCELLED"' in capsys.readouterr().out
