"""Never lock a seller out (issue 11): token refresh against a sandbox whose token host rotates
refresh tokens (each answer carries a new one; the one sent is refused from then on) and loses
answers after applying them (a read timeout, a 5xx, a garbled body) or answers slowly.

The rules: a token call whose outcome is unknown is not resent and marks no shop; one refresh
per grant at a time, and the call ends before its lease lapses; a refresh stores its tokens only
over the grant it refreshed; the single-use auth code is never resent; refresh tokens that
lapsed by our own stored expiry do not count against the refusal breaker, and the on-demand
refresher has a breaker too."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.shops.conftest import (
    SCHEDULED_EVENT,
    Wiring,
    build_client,
    connect,
    emitted_metrics,
    seed_shop,
    token_refresh,
)
from tts_local.sandbox import Sandbox
from tts_sync.shops import tokens as tokens_module
from tts_sync.shops.models import Shop, ShopStatus, ShopTokens
from tts_sync.shops.runtime import ShopDependencies, override_dependencies
from tts_sync.shops.tokens import StoreTokenRefresher
from tts_sync.tiktok import AccessTokenExpiredError, TikTokClient

DAY = 86_400
REFRESH = "/api/v2/token/refresh"
TOKEN_GET = "/api/v2/token/get"


@pytest.fixture
def rotating(wiring: Wiring) -> Wiring:
    wiring.sandbox.rotate_refresh_tokens = True
    return wiring


def use(wiring: Wiring, client: TikTokClient) -> None:
    override_dependencies(
        ShopDependencies(
            shops=wiring.store, client=client, states=wiring.states, clock=wiring.clock
        )
    )


def sent_refresh_tokens(sandbox: Sandbox) -> list[str]:
    return [r["query"]["refresh_token"] for r in sandbox.requests(REFRESH)]


def settle(sandbox: Sandbox, path: str, count: int, linger: float = 0.3) -> None:
    """Wait until the sandbox has logged `count` requests to `path`, then `linger` seconds
    more: the sandbox logs an abandoned request only when its injected sleep ends, so a resend
    can be logged before it (linger past the fault's sleep_seconds for timeouts)."""
    give_up = time.monotonic() + 6.0
    while len(sandbox.requests(path)) < count and time.monotonic() < give_up:
        time.sleep(0.05)
    time.sleep(linger)


def stored(wiring: Wiring, shop_id: str) -> Shop:
    shop = wiring.store.get(shop_id)
    assert shop is not None
    return shop


def access_token(wiring: Wiring, shop_id: str) -> str:
    tokens = stored(wiring, shop_id).tokens
    assert tokens is not None
    return tokens.access_token.get_secret_value()


def seed_siblings(wiring: Wiring, access_ttl: int) -> tuple[list[Shop], Any]:
    """Two shops of one seller on one grant (one consent), stored as if onboarded."""
    sandbox = wiring.sandbox
    us, uk = sandbox.seed_shop(region="US"), sandbox.seed_shop(region="GB")
    grant = sandbox.issue_token([us.id, uk.id], access_ttl=access_ttl)
    now = int(wiring.clock())
    shops = [
        wiring.store.save_authorization(
            Shop(
                shop_id=sandbox_shop.id,
                cipher=sandbox_shop.cipher,
                region=sandbox_shop.region,
                open_id=grant.open_id,
                tokens=ShopTokens.model_validate(
                    grant.to_api()
                    | {
                        "access_token_expires_at": grant.access_token_expire_in,
                        "refresh_token_expires_at": grant.refresh_token_expire_in,
                    }
                ),
                authorized_at=now - 60,
                updated_at=now - 60,
            )
        )
        for sandbox_shop in (us, uk)
    ]
    return shops, grant


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = target()
        except BaseException as exc:  # reported by the test's main thread
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


# ---------------------------------------------------------------- 1. lost refresh answers

LOST_ANSWERS = [
    {"kind": "timeout", "sleep_seconds": 2.6},  # the client's read timeout is 2 s
    {"kind": "5xx", "status": 503},
    {"kind": "5xx", "status": 500, "code": 36009003},
    {"kind": "garbled"},
]
LOST_IDS = ["read-timeout", "html-503", "500-internal", "garbled-200"]


@pytest.mark.parametrize("fault", LOST_ANSWERS, ids=LOST_IDS)
def test_a_lost_refresh_answer_is_not_resent_and_marks_no_shop(
    rotating: Wiring, capsys: pytest.CaptureFixture[str], fault: dict[str, Any]
) -> None:
    shop = seed_shop(rotating, access_ttl=DAY)
    assert shop.tokens is not None
    options = dict(fault)
    rotating.sandbox.inject_fault(REFRESH, options.pop("kind"), after_apply=True, **options)
    report = token_refresh(SCHEDULED_EVENT)
    settle(rotating.sandbox, REFRESH, 1, linger=fault.get("sleep_seconds", 0.3))
    assert sent_refresh_tokens(rotating.sandbox) == [shop.tokens.refresh_token.get_secret_value()]
    assert report["retry_later"] == 1 and report["reauthorization_required"] == 0
    after = stored(rotating, shop.shop_id)
    assert (after.status, after.status_reason) == (ShopStatus.ACTIVE, "")
    assert after.tokens == shop.tokens
    output = capsys.readouterr()
    metrics = emitted_metrics(output.out)
    assert metrics.count("TokenRefreshFailed") == 1  # the alarm failed refreshes already have
    assert "ShopReauthorizationRequired" not in metrics
    for secret in (shop.tokens.refresh_token.get_secret_value(), "TTR_", "TTP_"):
        assert secret not in output.out + output.err


@pytest.mark.parametrize("fault", LOST_ANSWERS[:2], ids=LOST_IDS[:2])
def test_an_on_demand_refresh_whose_answer_is_lost_is_not_resent(
    rotating: Wiring, fault: dict[str, Any]
) -> None:
    shop = seed_shop(rotating, access_ttl=5 * DAY)
    assert shop.tokens is not None
    rotating.sandbox.seed_warehouse(shop.shop_id, name="Main")
    rotating.sandbox.expire_access_token(shop.tokens.access_token.get_secret_value())
    options = dict(fault)
    rotating.sandbox.inject_fault(REFRESH, options.pop("kind"), after_apply=True, **options)
    with pytest.raises(AccessTokenExpiredError):
        rotating.client.get_warehouses(shop.access())
    settle(rotating.sandbox, REFRESH, 1, linger=fault.get("sleep_seconds", 0.3))
    assert len(rotating.sandbox.requests(REFRESH)) == 1
    after = stored(rotating, shop.shop_id)
    assert (after.status, after.status_reason) == (ShopStatus.ACTIVE, "")


# ---------------------------------------------------------------- 2. the lease bounds the call


def test_the_refresh_call_ends_before_its_lease_lapses(
    rotating: Wiring, stack: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens_module, "LEASE_SECONDS", 3)
    monkeypatch.setattr(tokens_module, "LEASE_MARGIN_SECONDS", 1.0, raising=False)
    patient = build_client(rotating.sandbox, stack, rotating.clock, read_timeout=8.0)
    use(rotating, patient)
    shop = seed_shop(rotating, access_ttl=DAY)
    # TikTok takes 5 s to answer: longer than the 3 s lease (the hourly run's own deadline is
    # about a minute here, ~295 s in Lambda).
    rotating.sandbox.inject_fault(REFRESH, "slow", sleep_seconds=5.0)
    run, result = in_thread(lambda: token_refresh(SCHEDULED_EVENT))
    run.join(timeout=3.0)  # the lease lapses now: another refresher could take it
    still_calling = run.is_alive()
    run.join()
    patient.close()
    assert not still_calling, "the refresh call outlived its lease"
    assert "error" not in result
    assert result["value"]["retry_later"] == 1
    after = stored(rotating, shop.shop_id)
    assert (after.status, after.status_reason) == (ShopStatus.ACTIVE, "")


# ---------------------------------------------------------------- 3. one lease per grant


def test_sibling_shops_of_one_grant_refresh_it_once_on_demand(rotating: Wiring) -> None:
    (us, uk), grant = seed_siblings(rotating, access_ttl=5 * DAY)
    rotating.sandbox.expire_access_token(grant.access_token)
    rotating.sandbox.inject_fault(REFRESH, "slow", sleep_seconds=1.0)
    refresher = StoreTokenRefresher(rotating.store, rotating.client, clock=rotating.clock)
    start = threading.Barrier(2)

    def refresh(shop: Shop) -> str:
        start.wait()
        return refresher.refresh_shop_token(shop.shop_id, grant.access_token)

    with ThreadPoolExecutor(2) as pool:
        tokens = list(pool.map(refresh, (us, uk)))
    assert sent_refresh_tokens(rotating.sandbox) == [grant.refresh_token]
    assert tokens[0] == tokens[1] == access_token(rotating, us.shop_id)
    assert access_token(rotating, uk.shop_id) == tokens[0] != grant.access_token
    for shop in (us, uk):
        assert stored(rotating, shop.shop_id).status is ShopStatus.ACTIVE
    # The grant's lease item (released) is not a shop to the hourly run.
    assert any(i["pk"]["S"].startswith("refresh-lease#") for i in rotating.items())
    report = token_refresh(SCHEDULED_EVENT)
    assert (report["shops"], report["not_due"], report["errors"]) == (2, 2, 0)


# ---------------------------------------------------------------- 4. a new consent wins


def test_a_refresh_answered_after_a_new_consent_keeps_the_new_consent(
    rotating: Wiring, stack: dict
) -> None:
    patient = build_client(rotating.sandbox, stack, rotating.clock, read_timeout=8.0)
    use(rotating, patient)
    shop = seed_shop(rotating, access_ttl=DAY)
    # The old grant's refresh is slow; TikTok applies it after the seller consented again
    # (for example after the 30-day expiry warning), so its tokens expire later.
    rotating.sandbox.inject_fault(REFRESH, "slow", sleep_seconds=2.5)
    run, result = in_thread(lambda: token_refresh({"shop_id": shop.shop_id}))
    time.sleep(0.8)  # the refresh is on its way to TikTok
    assert connect(rotating.sandbox)["statusCode"] == 200
    consent = stored(rotating, shop.shop_id).tokens
    assert consent is not None and consent != shop.tokens
    run.join()
    patient.close()
    assert "error" not in result, result.get("error")
    assert len(rotating.sandbox.requests(REFRESH)) == 1  # the old grant's refresh did answer
    after = stored(rotating, shop.shop_id)
    assert after.tokens == consent
    assert after.status is ShopStatus.ACTIVE


# ---------------------------------------------------------------- 5. the auth code


def test_a_lost_token_get_answer_is_not_resent_and_the_seller_is_told_to_start_again(
    wiring: Wiring,
) -> None:
    wiring.sandbox.seed_shop()
    wiring.sandbox.inject_fault(TOKEN_GET, "timeout", after_apply=True, sleep_seconds=2.6)
    response = connect(wiring.sandbox)
    settle(wiring.sandbox, TOKEN_GET, 1, linger=2.6)
    assert len(wiring.sandbox.requests(TOKEN_GET)) == 1  # the single-use code, sent once
    assert response["statusCode"] == 503
    assert "refused" not in response["body"].lower()
    assert "may have" in response["body"] and "start the connection again" in response["body"]
    assert wiring.items() == []


# ---------------------------------------------------------------- 6. breakers


def test_refresh_tokens_lapsed_by_our_own_expiry_do_not_trip_the_refusal_breaker(
    wiring: Wiring, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTS_TOKEN_MAX_REFUSALS_PER_RUN", "2")
    lapsed = [seed_shop(wiring, access_ttl=DAY, refresh_expires_in=-10) for _ in range(3)]
    refused = seed_shop(wiring, access_ttl=DAY, refresh_token="TTR_revoked_by_tiktok")
    report = token_refresh(SCHEDULED_EVENT)
    assert report["reauthorization_required"] == 4 and report["refusals_not_marked"] == 0
    for shop in lapsed:
        assert stored(wiring, shop.shop_id).status_reason == "refresh_token_expired"
    assert stored(wiring, refused.shop_id).status_reason == "refresh_refused"
    metrics = emitted_metrics(capsys.readouterr().out)
    assert "TokenRefusalBreakerTripped" not in metrics
    assert metrics.count("ShopReauthorizationRequired") == 4


def test_the_on_demand_refresher_has_a_refusal_breaker(
    wiring: Wiring, caplog: pytest.LogCaptureFixture
) -> None:
    shops = [
        seed_shop(wiring, access_ttl=5 * DAY, refresh_token=f"TTR_unknown_{n}") for n in range(3)
    ]
    wiring.client.token_refresher = StoreTokenRefresher(
        wiring.store, wiring.client, clock=wiring.clock, max_refusals=2
    )
    for shop in shops:
        assert shop.tokens is not None
        wiring.sandbox.expire_access_token(shop.tokens.access_token.get_secret_value())
        with pytest.raises(AccessTokenExpiredError):
            wiring.client.get_warehouses(shop.access())
    statuses = [stored(wiring, shop.shop_id).status for shop in shops]
    assert statuses.count(ShopStatus.REAUTHORIZATION_REQUIRED) == 2
    assert statuses.count(ShopStatus.ACTIVE) == 1
    # (Outside a handler no metrics are flushed; the breaker's one error line says it.)
    assert caplog.text.count("too many shops refused at once") == 1
