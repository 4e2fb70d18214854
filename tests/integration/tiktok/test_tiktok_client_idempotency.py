"""Calls that must not be applied twice (the fulfilment POSTs) are retried only when TikTok
certainly did not process them; after a timeout or a 5xx they raise TikTokOutcomeUnknownError
with exactly one attempt in the sandbox's request log. Idempotent writes still retry."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tts_local.sandbox import DemoData, Sandbox
from tts_sync.tiktok import (
    ShopAccess,
    TikTokClient,
    TikTokNotSentError,
    TikTokOutcomeUnknownError,
    TikTokRetryableError,
)
from tts_sync.tiktok.models import SkuStock, StockLevel

ClientFactory = Callable[..., TikTokClient]
Fulfilment = Callable[[TikTokClient], object]

MUG = "1729582718312380001"
MUG_BLUE = "1729582718312381002"
EAST = "7000000000000001001"
STOCK = f"/product/202309/products/{MUG}/inventory/update"


def attempts(sandbox: Sandbox, path: str) -> list[int]:
    return [r["status"] for r in sandbox.requests(path) if r["path"] == path]


def package_of(client: TikTokClient, shop: ShopAccess, demo: DemoData, label: str) -> str:
    [order] = client.get_order_detail(shop, [demo.orders[label].id])
    return order.packages[0].id


def fulfilment_call(
    name: str, client: TikTokClient, shop: ShopAccess, demo: DemoData
) -> tuple[str, Fulfilment]:
    """(the path the call posts to, the call) for each non-idempotent client method."""
    provider = demo.provider_id
    if name == "ship_package":
        package = package_of(client, shop, demo, "awaiting_shipment")
        return (
            f"/fulfillment/202309/packages/{package}/ship",
            lambda c: c.ship_package(shop, package, "1Z100", provider),
        )
    if name == "mark_shipped":
        order = demo.orders["awaiting_shipment"].id
        return (
            f"/fulfillment/202309/orders/{order}/packages",
            lambda c: c.mark_shipped(shop, order, "9400100", provider),
        )
    package = package_of(client, shop, demo, "awaiting_shipment")
    client.ship_package(shop, package, "1Z100", provider)
    return (
        f"/fulfillment/202309/packages/{package}/shipping_info/update",
        lambda c: c.update_shipping_info(shop, package, "1Z101", provider),
    )


FULFILMENT_CALLS = ["ship_package", "mark_shipped", "update_shipping_info"]


@pytest.mark.parametrize("name", FULFILMENT_CALLS)
@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503},  # a load balancer's page, no envelope
        {"status": 500, "code": 36009003},
        {"status": 200, "code": 36009007},
    ],
    ids=["html-503", "500-internal", "200-gateway-timeout-code"],
)
def test_a_5xx_on_a_fulfilment_call_is_not_retried(
    client: TikTokClient,
    sandbox: Sandbox,
    demo: DemoData,
    shop: ShopAccess,
    fake_sleep: Any,
    name: str,
    fault: dict[str, Any],
) -> None:
    path, call = fulfilment_call(name, client, shop, demo)
    sandbox.inject_fault(path, "5xx", count=1, **fault)
    with pytest.raises(TikTokOutcomeUnknownError) as error:
        call(client)
    assert isinstance(error.value, TikTokRetryableError)
    assert "may have been applied" in str(error.value)
    assert (error.value.http_status, error.value.code) == (fault["status"], fault.get("code"))
    assert attempts(sandbox, path) == [fault["status"]]
    assert fake_sleep.sleeps == []


def test_a_timeout_on_ship_package_is_not_retried(
    make_client: ClientFactory,
    sandbox: Sandbox,
    demo: DemoData,
    shop: ShopAccess,
    fake_sleep: Any,
) -> None:
    client = make_client(config={"read_timeout": 0.2})
    path, call = fulfilment_call("ship_package", client, shop, demo)
    sandbox.inject_fault(path, "timeout", count=1, sleep_seconds=0.6)
    with pytest.raises(TikTokOutcomeUnknownError, match="may have been applied"):
        call(client)
    # The sandbox logs the abandoned request when its sleep ends; give a retry time to show.
    give_up = time.monotonic() + 2
    while not attempts(sandbox, path) and time.monotonic() < give_up:
        time.sleep(0.05)
    time.sleep(0.3)
    assert attempts(sandbox, path) == [504]
    assert fake_sleep.sleeps == []


def test_a_429_on_ship_package_is_retried(
    client: TikTokClient, sandbox: Sandbox, demo: DemoData, shop: ShopAccess, fake_sleep: Any
) -> None:
    path, call = fulfilment_call("ship_package", client, shop, demo)
    sandbox.inject_fault(path, "429", count=1)
    call(client)
    assert attempts(sandbox, path) == [429, 200]
    assert fake_sleep.sleeps == [0.5]
    package = path.split("/")[-2]
    assert client.get_package_detail(shop, package).tracking_number == "1Z100"


class RefuseFirstConnection(httpx.HTTPTransport):
    """The first connection attempt is refused (nothing sent); later ones go through."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.refused == 0:
            self.refused += 1
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return super().handle_request(request)


def test_a_refused_connection_on_ship_package_is_retried(
    make_client: ClientFactory,
    sandbox: Sandbox,
    demo: DemoData,
    shop: ShopAccess,
    fake_sleep: Any,
) -> None:
    setup = make_client()
    path, call = fulfilment_call("ship_package", setup, shop, demo)
    refusing = RefuseFirstConnection()
    client = make_client(http=httpx.Client(transport=refusing))
    call(client)
    assert refusing.refused == 1 and fake_sleep.sleeps == [0.5]
    assert attempts(sandbox, path) == [200]  # applied once


def test_a_host_refusing_every_connection_is_retried_until_the_deadline(
    make_client: ClientFactory, demo: DemoData, shop: ShopAccess, fake_sleep: Any
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = make_client(config={"api_base_url": dead_url})
    with pytest.raises(TikTokNotSentError):
        client.ship_package(
            shop, "1234567890", "1Z100", demo.provider_id, deadline=fake_sleep.deadline(3)
        )
    assert fake_sleep.sleeps == [0.5, 1.0]  # three attempts; a 2 s wait would overrun 3 s


def test_update_stock_still_retries_a_5xx(
    client: TikTokClient, sandbox: Sandbox, shop: ShopAccess, fake_sleep: Any
) -> None:
    sandbox.inject_fault(STOCK, "5xx", count=2, status=500, code=36009003)
    outcome = client.update_stock(
        shop, MUG, [SkuStock(sku_id=MUG_BLUE, levels=[StockLevel(warehouse_id=EAST, quantity=4)])]
    )
    assert outcome.succeeded == [MUG_BLUE]
    assert attempts(sandbox, STOCK) == [500, 500, 200]
    assert fake_sleep.sleeps == [0.5, 1.0]
