"""Calls whose outcome may be unknown, against the sandbox over loopback: TikTok applies the
request and then the answer is lost (a garbled 2xx body), a success carries ids as JSON numbers,
or the call has too little time left to be worth sending."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.tiktok.test_tiktok_client_idempotency import (
    FULFILMENT_CALLS,
    ClientFactory,
    attempts,
    fulfilment_call,
    package_of,
)
from tts_local.sandbox import DemoData, Sandbox
from tts_sync.tiktok import (
    ShopAccess,
    TikTokClient,
    TikTokNotSentError,
    TikTokOutcomeUnknownError,
)
from tts_sync.tiktok.errors import certainly_not_processed
from tts_sync.tiktok.ratelimit import BucketPolicy, InMemoryRateLimiter

REFRESH = "/api/v2/token/refresh"


@pytest.mark.parametrize("name", FULFILMENT_CALLS)
def test_a_garbled_2xx_on_a_fulfilment_call_is_an_unknown_outcome(
    client: TikTokClient,
    sandbox: Sandbox,
    demo: DemoData,
    shop: ShopAccess,
    fake_sleep: Any,
    name: str,
) -> None:
    path, call = fulfilment_call(name, client, shop, demo)
    sandbox.inject_fault(path, "garbled", after_apply=True)
    with pytest.raises(TikTokOutcomeUnknownError, match="may have been applied"):
        call(client)
    assert attempts(sandbox, path) == [200]  # applied once, never resent
    assert fake_sleep.sleeps == []


def test_a_garbled_2xx_ship_was_applied_so_it_must_not_be_sent_again(
    client: TikTokClient, sandbox: Sandbox, demo: DemoData, shop: ShopAccess
) -> None:
    package = package_of(client, shop, demo, "awaiting_shipment")
    path = f"/fulfillment/202309/packages/{package}/ship"
    sandbox.inject_fault(path, "garbled", after_apply=True)
    with pytest.raises(TikTokOutcomeUnknownError):
        client.ship_package(shop, package, "1Z100", demo.provider_id)
    assert client.get_package_detail(shop, package).tracking_number == "1Z100"


def test_mark_shipped_answering_a_numeric_package_id_is_a_success(
    client: TikTokClient, sandbox: Sandbox, demo: DemoData, shop: ShopAccess
) -> None:
    sandbox.options.numeric_ids = True
    order = demo.orders["awaiting_shipment"].id
    shipped = client.mark_shipped(shop, order, "9400100", demo.provider_id)
    assert isinstance(shipped.package_id, str)
    assert shipped.package_id in sandbox.state.packages
    assert sandbox.state.packages[shipped.package_id].tracking_number == "9400100"


@pytest.mark.parametrize("seconds_left", [0.5, 0.0, -3.0])
def test_a_token_call_with_less_than_the_minimum_budget_is_not_sent(
    client: TikTokClient, sandbox: Sandbox, demo: DemoData, seconds_left: float
) -> None:
    with pytest.raises(TikTokNotSentError):
        client.refresh_access_token(demo.grant.refresh_token, deadline=lambda: seconds_left)
    with pytest.raises(TikTokNotSentError):
        client.get_access_token("AC_whatever", deadline=lambda: seconds_left)
    assert sandbox.requests("/api/v2/token/") == []


def test_a_ship_with_less_than_the_minimum_budget_is_not_sent(
    make_client: ClientFactory, sandbox: Sandbox, demo: DemoData, shop: ShopAccess
) -> None:
    client = make_client()
    path, _ = fulfilment_call("ship_package", client, shop, demo)
    package = path.split("/")[-2]
    with pytest.raises(TikTokNotSentError):
        client.ship_package(shop, package, "1Z100", demo.provider_id, deadline=lambda: 0.5)
    assert attempts(sandbox, path) == []
    # The minimum is a setting (TTS_API_MIN_SEND_SECONDS): below it, the same call goes out.
    eager = make_client(config={"min_send_seconds": 0.2})
    eager.ship_package(shop, package, "1Z100", demo.provider_id, deadline=lambda: 0.5)
    assert attempts(sandbox, path) == [200]


def test_a_ship_whose_deadline_the_limiter_wait_ate_is_not_sent(
    make_client: ClientFactory, sandbox: Sandbox, demo: DemoData, shop: ShopAccess, fake_sleep: Any
) -> None:
    setup = make_client()
    path, _ = fulfilment_call("ship_package", setup, shop, demo)
    package = path.split("/")[-2]
    limiter = InMemoryRateLimiter(BucketPolicy(rate_per_second=1, burst=1), sleep=fake_sleep)
    client = make_client(limiter=limiter)
    client.get_package_detail(shop, package)  # takes the one banked token
    # The next slot is 1 s away: waiting for it would leave 0.2 s to ship in.
    with pytest.raises(Exception) as error:
        client.ship_package(
            shop, package, "1Z100", demo.provider_id, deadline=fake_sleep.deadline(1.2)
        )
    assert certainly_not_processed(error.value)  # type: ignore[arg-type]
    assert attempts(sandbox, path) == []
