"""The token-refresh function end to end: hourly schedule, on-demand refresh inside the client,
the ops console event. Type-6/7 webhooks reach the shops through the Events stream's one
consumer: test_shop_lifecycle_webhooks.py."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import FakeLambdaContext, load_function
from tests.integration.shops.conftest import (
    APP_KEY,
    APP_SECRET,
    SCHEDULED_EVENT,
    Wiring,
    build_client,
    emitted_metrics,
    seed_shop,
    token_refresh,
)
from tts_sync.shops import tokens as tokens_module
from tts_sync.shops.jobs import InvalidTokenRefreshEventError
from tts_sync.shops.models import (
    Shop,
    ShopStatus,
    ShopTokens,
    SubscriptionStatus,
)
from tts_sync.shops.runtime import ShopDependencies, override_dependencies
from tts_sync.shops.subscriptions import WEBHOOK_EVENT_TYPES
from tts_sync.shops.tokens import StoreTokenRefresher, UnknownShopError
from tts_sync.tiktok import (
    AccessTokenExpiredError,
    TikTokApiConfig,
    TikTokClient,
    TikTokPermanentError,
)

DAY = 86_400
CONSOLE_EVENTS = Path(__file__).resolve().parents[3] / "events" / "console"


class FailingIssuer:
    """The real client, except that token/refresh fails with `error` (counting the calls)."""

    def __init__(self, client: object, error: Exception) -> None:
        self._client = client
        self._error = error
        self.calls = 0

    def refresh_access_token(self, refresh_token: str, *, deadline=None) -> None:
        self.calls += 1
        raise self._error

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)


def use_client(wiring: Wiring, client: object) -> None:
    override_dependencies(
        ShopDependencies(
            shops=wiring.store,
            client=client,  # type: ignore[arg-type]
            clock=wiring.clock,
        )
    )


def access_token(wiring: Wiring, shop_id: str) -> str:
    shop = wiring.store.get(shop_id)
    assert shop is not None and shop.tokens is not None
    return shop.tokens.access_token.get_secret_value()


def test_hourly_run_refreshes_only_shops_near_expiry_by_absolute_timestamps(
    wiring: Wiring, capsys
) -> None:
    soon = seed_shop(wiring, access_ttl=1 * DAY)  # inside the 48 h window
    later = seed_shop(wiring, access_ttl=6 * DAY)
    report = token_refresh(SCHEDULED_EVENT)
    assert (report["refreshed"], report["not_due"], report["errors"]) == (1, 1, 0)
    refreshed = wiring.store.get(soon.shop_id)
    assert refreshed is not None and refreshed.tokens is not None
    grant = wiring.sandbox.state.grants[refreshed.tokens.access_token.get_secret_value()]
    assert refreshed.tokens.access_token_expires_at == grant.access_token_expire_in
    assert refreshed.tokens.access_token_expires_at > time.time() + 6 * DAY
    assert access_token(wiring, later.shop_id) == later.tokens.access_token.get_secret_value()
    assert len(wiring.sandbox.requests("/api/v2/token/refresh")) == 1

    wiring.clock.advance(4.5 * DAY)  # `later` now has 1.5 days left; `soon`'s new token 2.5
    report = token_refresh(SCHEDULED_EVENT)
    assert (report["refreshed"], report["not_due"]) == (1, 1)
    assert access_token(wiring, later.shop_id) != later.tokens.access_token.get_secret_value()
    output = capsys.readouterr()
    assert emitted_metrics(output.out).count("TokenRefreshed") == 2
    for grant in wiring.sandbox.state.grants.values():
        for secret in (grant.access_token, grant.refresh_token, APP_SECRET):
            assert secret not in output.out + output.err


def test_shops_of_one_grant_share_one_refresh_per_run(wiring: Wiring) -> None:
    sandbox = wiring.sandbox
    us, uk = sandbox.seed_shop(region="US"), sandbox.seed_shop(region="GB")
    grant = sandbox.issue_token([us.id, uk.id], access_ttl=DAY)
    now = int(wiring.clock())
    for sandbox_shop in (us, uk):
        wiring.store.save_authorization(
            Shop(
                shop_id=sandbox_shop.id,
                cipher=sandbox_shop.cipher,
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
    report = token_refresh(SCHEDULED_EVENT)
    assert report["refreshed"] == 2
    assert len(sandbox.requests("/api/v2/token/refresh")) == 1
    assert access_token(wiring, us.id) == access_token(wiring, uk.id) != grant.access_token


def test_lapsed_refused_and_broken_shops_never_stop_the_others(wiring: Wiring, capsys) -> None:
    due = seed_shop(wiring, access_ttl=DAY)
    seed_shop(wiring, access_ttl=7 * DAY)  # not due
    lapsed = seed_shop(wiring, access_ttl=DAY, refresh_expires_in=-10)
    refused = seed_shop(wiring, access_ttl=DAY, refresh_token="TTR_revoked_by_tiktok")
    # A damaged item: it cannot even be read; it must fail alone.
    wiring.dynamodb.put_item(
        TableName=wiring.shops_table,
        Item={"pk": {"S": "broken"}, "cipher": {"S": "x"}, "status": {"S": "paused?"}},
    )
    report = token_refresh(SCHEDULED_EVENT)
    assert report["shops"] == 5
    assert report["refreshed"] == 1 and report["not_due"] == 1
    assert report["reauthorization_required"] == 2
    assert report["errors"] == 1 and report["failed_shop_ids"] == ["broken"]
    assert access_token(wiring, due.shop_id) != due.tokens.access_token.get_secret_value()
    for shop, reason in ((lapsed, "refresh_token_expired"), (refused, "refresh_refused")):
        stored = wiring.store.get(shop.shop_id)
        assert stored is not None
        assert stored.status is ShopStatus.REAUTHORIZATION_REQUIRED
        assert stored.status_reason == reason
    # The lapsed refresh token was never sent to TikTok.
    sent = [r["query"]["refresh_token"] for r in wiring.sandbox.requests("/api/v2/token/refresh")]
    assert lapsed.tokens.refresh_token.get_secret_value() not in sent
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.count("ShopReauthorizationRequired") == 2
    assert metrics.count("TokenRefreshFailed") == 1

    # Next hour: shops waiting for consent are not retried (no repeated alarms).
    report = token_refresh(SCHEDULED_EVENT)
    assert report["skipped"] == 2 and report["reauthorization_required"] == 0
    assert "ShopReauthorizationRequired" not in emitted_metrics(capsys.readouterr().out)


@pytest.mark.parametrize(
    "error",
    [
        TikTokPermanentError("unknown failure", code=12345678, http_status=400),
        TikTokPermanentError("unreadable response from /api/v2/token/refresh", http_status=200),
        TikTokPermanentError("invalid sign", code=106001, http_status=401),
        TikTokPermanentError("invalid app_key or app_secret", code=36009004, http_status=401),
        TikTokPermanentError("timestamp outside the accepted window", code=36009004),
    ],
    ids=["unknown-code", "non-json-200", "invalid-sign", "our-app-secret", "other-36009004"],
)
def test_refresh_failures_other_than_a_rejected_refresh_token_never_mark_the_shop(
    wiring: Wiring, capsys, error: TikTokPermanentError
) -> None:
    shop = seed_shop(wiring, access_ttl=DAY)
    issuer = FailingIssuer(wiring.client, error)
    use_client(wiring, issuer)
    report = token_refresh(SCHEDULED_EVENT)
    assert issuer.calls == 1
    assert report["retry_later"] == 1 and report["reauthorization_required"] == 0
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.status is ShopStatus.ACTIVE and stored.status_reason == ""
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.count("TokenRefreshFailed") == 1
    assert "ShopReauthorizationRequired" not in metrics
    # Still refreshed on the next run.
    assert token_refresh(SCHEDULED_EVENT)["retry_later"] == 1 and issuer.calls == 2


@pytest.mark.parametrize(
    "error",
    [
        TikTokPermanentError("rt has expired", code=36004001),
        TikTokPermanentError("can not find related auth record", code=36004005),
    ],
)
def test_tiktok_rejecting_the_refresh_token_marks_the_shop(
    wiring: Wiring, error: TikTokPermanentError
) -> None:
    shop = seed_shop(wiring, access_ttl=DAY)
    use_client(wiring, FailingIssuer(wiring.client, error))
    assert token_refresh(SCHEDULED_EVENT)["reauthorization_required"] == 1
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.status is ShopStatus.REAUTHORIZATION_REQUIRED
    assert stored.status_reason == "refresh_refused"


def test_a_rotated_out_app_secret_marks_no_shop(wiring: Wiring, stack) -> None:
    shops = [seed_shop(wiring, access_ttl=DAY) for _ in range(3)]
    stale = TikTokClient(
        APP_KEY,
        "an-app-secret-rotated-out",
        config=TikTokApiConfig(api_base_url=wiring.sandbox.url, auth_base_url=wiring.sandbox.url),
    )
    use_client(wiring, stale)
    report = token_refresh(SCHEDULED_EVENT)
    stale.close()
    assert report["retry_later"] == 3 and report["reauthorization_required"] == 0
    assert [c["code"] for c in wiring.sandbox.requests("/api/v2/token/refresh")] == [36009004] * 3
    for shop in shops:
        stored = wiring.store.get(shop.shop_id)
        assert stored is not None and stored.status is ShopStatus.ACTIVE


def test_refusal_breaker_stops_marking_after_the_limit(
    wiring: Wiring, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("TTS_TOKEN_MAX_REFUSALS_PER_RUN", "2")
    shops = [seed_shop(wiring, access_ttl=DAY, refresh_token=f"TTR_unknown_{n}") for n in range(4)]
    report = token_refresh(SCHEDULED_EVENT)
    assert report["reauthorization_required"] == 2 and report["retry_later"] == 2
    assert report["refusals_not_marked"] == 2
    statuses = [wiring.store.get(shop.shop_id).status for shop in shops]  # type: ignore[union-attr]
    assert statuses.count(ShopStatus.REAUTHORIZATION_REQUIRED) == 2
    assert statuses.count(ShopStatus.ACTIVE) == 2
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.count("ShopReauthorizationRequired") == 2
    assert metrics.count("TokenRefusalBreakerTripped") == 1


def test_a_shop_waiting_for_consent_is_left_alone_and_alarms_once(wiring: Wiring, capsys) -> None:
    shop = seed_shop(wiring, access_ttl=DAY, refresh_token="TTR_revoked_by_tiktok")
    wiring.store.save_subscriptions(
        shop.shop_id,
        "https://api.tts.test/webhooks/tiktok",
        {t: SubscriptionStatus.FAILED for t in WEBHOOK_EVENT_TYPES},
        int(time.time()),
    )
    wiring.sandbox.expire_access_token(shop.tokens.access_token.get_secret_value())
    assert token_refresh(SCHEDULED_EVENT)["reauthorization_required"] == 1
    assert emitted_metrics(capsys.readouterr().out).count("ShopReauthorizationRequired") == 1
    refresh_calls = len(wiring.sandbox.requests("/api/v2/token/refresh"))
    for _ in range(3):
        report = token_refresh(SCHEDULED_EVENT)
        assert report["skipped"] == 1 and report["subscriptions_repaired"] == 0
    # No subscription calls meeting the expired token, no refresh, no new alarm.
    assert wiring.sandbox.requests("/event/202309/webhooks") == []
    with pytest.raises(AccessTokenExpiredError, match="consent"):
        wiring.client.get_warehouses(shop.access())
    assert len(wiring.sandbox.requests("/api/v2/token/refresh")) == refresh_calls
    assert "ShopReauthorizationRequired" not in emitted_metrics(capsys.readouterr().out)


def test_marking_the_same_status_and_reason_again_changes_nothing(wiring: Wiring) -> None:
    shop = seed_shop(wiring, access_ttl=DAY)
    reauth = ShopStatus.REAUTHORIZATION_REQUIRED
    assert wiring.store.mark(shop.shop_id, reauth, "refresh_refused", 1, event_time=None)
    version = wiring.store.get(shop.shop_id).version  # type: ignore[union-attr]
    assert not wiring.store.mark(shop.shop_id, reauth, "refresh_refused", 2, event_time=None)
    assert wiring.store.get(shop.shop_id).version == version  # type: ignore[union-attr]
    assert wiring.store.mark(shop.shop_id, reauth, "authorization_expiring", 3, event_time=None)


class ShortOnTimeAfterFirstRefresh(FakeLambdaContext):
    """Plenty of time until the sandbox has answered one token/refresh, then too little."""

    def __init__(self, sandbox: object) -> None:
        super().__init__(300_000)
        self.sandbox = sandbox

    def get_remaining_time_in_millis(self) -> int:
        refreshed = self.sandbox.requests("/api/v2/token/refresh")  # type: ignore[attr-defined]
        return 12_000 if refreshed else 300_000


def test_siblings_left_stale_by_a_storage_hiccup_do_not_fail_the_refresh(wiring: Wiring) -> None:
    from tts_sync.errors import StorageUnavailableError

    class SiblingsUnavailable:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def save_grant_tokens(self, *args: object) -> int:
            raise StorageUnavailableError("ProvisionedThroughputExceededException")

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    shop = seed_shop(wiring, access_ttl=DAY)  # has an open_id: siblings are looked for
    expired = shop.tokens.access_token.get_secret_value()
    wiring.sandbox.expire_access_token(expired)
    refresher = StoreTokenRefresher(
        SiblingsUnavailable(wiring.store),  # type: ignore[arg-type]
        wiring.client,
        clock=wiring.clock,
    )
    assert refresher.refresh_shop_token(shop.shop_id, expired) == access_token(wiring, shop.shop_id)
    assert access_token(wiring, shop.shop_id) != expired


def test_a_short_run_refreshes_the_soonest_expiring_shop_and_defers_the_rest(
    wiring: Wiring, capsys
) -> None:
    later = seed_shop(wiring, access_ttl=DAY + 3600)
    soonest = seed_shop(wiring, access_ttl=3600)
    middle = seed_shop(wiring, access_ttl=DAY)
    handler = load_function("token_refresh").lambda_handler
    report = handler(SCHEDULED_EVENT, ShortOnTimeAfterFirstRefresh(wiring.sandbox))
    assert (report["refreshed"], report["deferred"]) == (1, 2)
    assert access_token(wiring, soonest.shop_id) != soonest.tokens.access_token.get_secret_value()
    for untouched in (later, middle):
        token = untouched.tokens.access_token.get_secret_value()
        assert access_token(wiring, untouched.shop_id) == token
    assert emitted_metrics(capsys.readouterr().out).count("TokenRunDeferred") == 2
    # The next (full) run takes the rest, soonest first.
    assert token_refresh(SCHEDULED_EVENT)["refreshed"] == 2
    refreshed = [
        r["query"]["refresh_token"] for r in wiring.sandbox.requests("/api/v2/token/refresh")
    ]
    assert refreshed == [
        shop.tokens.refresh_token.get_secret_value() for shop in (soonest, middle, later)
    ]


def test_the_hourly_run_subscribes_pending_webhooks(wiring: Wiring) -> None:
    shop = seed_shop(wiring, access_ttl=6 * DAY)
    address = "https://api.tts.test/webhooks/tiktok"
    pending = dict.fromkeys(WEBHOOK_EVENT_TYPES, SubscriptionStatus.PENDING)
    pending[WEBHOOK_EVENT_TYPES[0]] = SubscriptionStatus.SUBSCRIBED
    wiring.store.save_subscriptions(shop.shop_id, address, pending, int(time.time()))
    report = token_refresh(SCHEDULED_EVENT)
    assert report["subscriptions_repaired"] == 1 and report["not_due"] == 1
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and not stored.missing_subscriptions(WEBHOOK_EVENT_TYPES)
    puts = [r for r in wiring.sandbox.requests("/event/202309/webhooks") if r["method"] == "PUT"]
    assert len(puts) == len(WEBHOOK_EVENT_TYPES) - 1


def test_retryable_refresh_failure_is_left_for_the_next_run(wiring: Wiring, stack) -> None:
    shop = seed_shop(wiring, access_ttl=DAY)
    dead = build_client(wiring.sandbox, stack, wiring.clock, auth_base_url="http://127.0.0.1:9")
    override_dependencies(ShopDependencies(shops=wiring.store, client=dead, clock=wiring.clock))
    report = token_refresh(SCHEDULED_EVENT)
    dead.close()
    assert report["retry_later"] == 1 and report["errors"] == 0
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.status is ShopStatus.ACTIVE
    assert stored.tokens == shop.tokens


def test_older_tokens_never_replace_newer_ones(wiring: Wiring) -> None:
    shop = seed_shop(wiring, access_ttl=DAY)
    now = int(time.time())
    newer = ShopTokens.model_validate(
        {
            "access_token": "TTP_newer",
            "access_token_expires_at": now + 7 * DAY,
            "refresh_token": "TTR_same",
            "refresh_token_expires_at": now + 300 * DAY,
        }
    )
    older = ShopTokens.model_validate(
        newer.model_dump() | {"access_token": "TTP_older", "access_token_expires_at": now + 6 * DAY}
    )
    assert wiring.store.save_tokens(shop.shop_id, newer, now).tokens == newer
    kept = wiring.store.save_tokens(shop.shop_id, older, now)
    assert kept.tokens == newer
    assert access_token(wiring, shop.shop_id) == "TTP_newer"


def test_concurrent_refreshes_make_one_call_and_all_take_its_tokens(wiring: Wiring) -> None:
    shop = seed_shop(wiring, access_ttl=DAY)
    expired = shop.tokens.access_token.get_secret_value()
    wiring.sandbox.expire_access_token(expired)
    refresher = StoreTokenRefresher(wiring.store, wiring.client, clock=wiring.clock)
    start = threading.Barrier(6)

    def refresh(_: int) -> str:
        start.wait()
        return refresher.refresh_shop_token(shop.shop_id, expired)

    with ThreadPoolExecutor(6) as pool:
        tokens = list(pool.map(refresh, range(6)))
    assert len(wiring.sandbox.requests("/api/v2/token/refresh")) == 1
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.tokens is not None
    assert set(tokens) == {stored.tokens.access_token.get_secret_value()} != {expired}
    grant = wiring.sandbox.state.grants[tokens[0]]
    assert stored.tokens.access_token_expires_at == grant.access_token_expire_in > time.time()
    item = wiring.dynamodb.get_item(TableName=wiring.shops_table, Key={"pk": {"S": shop.shop_id}})
    assert "refresh_lease_until" not in item["Item"]  # released


def test_a_waiting_refresher_takes_the_tokens_the_lease_holder_stores(wiring: Wiring) -> None:
    shop = seed_shop(wiring, access_ttl=DAY)
    expired = shop.tokens.access_token.get_secret_value()
    now = int(wiring.clock())
    assert wiring.store.acquire_refresh_lease(shop.shop_id, "other", now, 30) is not None
    newer = ShopTokens.model_validate(
        {
            "access_token": "TTP_from_the_holder",
            "access_token_expires_at": now + 7 * DAY,
            "refresh_token": shop.tokens.refresh_token.get_secret_value(),
            "refresh_token_expires_at": now + 300 * DAY,
        }
    )

    def holder_finishes() -> None:
        time.sleep(0.3)
        wiring.store.save_tokens(shop.shop_id, newer, now)
        wiring.store.release_refresh_lease(shop.shop_id, "other")

    finisher = threading.Thread(target=holder_finishes)
    finisher.start()
    refresher = StoreTokenRefresher(wiring.store, wiring.client, clock=wiring.clock)
    assert refresher.refresh_shop_token(shop.shop_id, expired) == "TTP_from_the_holder"
    finisher.join()
    assert wiring.sandbox.requests("/api/v2/token/refresh") == []


def test_a_lease_held_too_long_fails_the_call_without_marking(
    wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens_module, "LEASE_WAIT_SECONDS", 0.3)
    shop = seed_shop(wiring, access_ttl=DAY)
    assert wiring.store.acquire_refresh_lease(shop.shop_id, "stuck", int(wiring.clock()), 30)
    refresher = StoreTokenRefresher(wiring.store, wiring.client, clock=wiring.clock)
    with pytest.raises(AccessTokenExpiredError):
        refresher.refresh_shop_token(shop.shop_id, shop.tokens.access_token.get_secret_value())
    assert wiring.sandbox.requests("/api/v2/token/refresh") == []
    assert wiring.store.get(shop.shop_id).status is ShopStatus.ACTIVE  # type: ignore[union-attr]
    # The lease lapses: a later refresh goes ahead.
    wiring.clock.advance(31)
    assert refresher.refresh_shop_token(shop.shop_id, shop.tokens.access_token.get_secret_value())
    assert len(wiring.sandbox.requests("/api/v2/token/refresh")) == 1


def test_a_refusal_after_a_new_consent_keeps_the_new_tokens(wiring: Wiring) -> None:
    shop = seed_shop(wiring, access_ttl=DAY)

    class ReconsentThenRefuse(FailingIssuer):
        def refresh_access_token(self, refresh_token: str, *, deadline=None) -> None:
            # The seller consents again while our refresh (with the old token) is in flight.
            grant = wiring.sandbox.issue_token([shop.shop_id], access_ttl=7 * DAY)
            wiring.store.save_authorization(
                shop.model_copy(
                    update={
                        "tokens": ShopTokens.model_validate(
                            grant.to_api()
                            | {
                                "access_token_expires_at": grant.access_token_expire_in,
                                "refresh_token_expires_at": grant.refresh_token_expire_in,
                            }
                        ),
                        "authorized_at": int(time.time()),
                    }
                )
            )
            super().refresh_access_token(refresh_token, deadline=deadline)

    issuer = ReconsentThenRefuse(
        wiring.client, TikTokPermanentError("can not find related auth record", code=36004005)
    )
    use_client(wiring, issuer)
    assert token_refresh({"shop_id": shop.shop_id})["outcome"] == "superseded"
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.status is ShopStatus.ACTIVE
    assert stored.tokens is not None and stored.tokens != shop.tokens


def test_a_refresh_gives_the_new_tokens_to_the_grants_other_shops(wiring: Wiring) -> None:
    sandbox = wiring.sandbox
    us, uk = sandbox.seed_shop(region="US"), sandbox.seed_shop(region="GB")
    sandbox.seed_warehouse(us.id, name="Main")
    sandbox.seed_warehouse(uk.id, name="London")
    grant = sandbox.issue_token([us.id, uk.id], access_ttl=5 * DAY)
    now = int(wiring.clock())
    stored = [
        wiring.store.save_authorization(
            Shop(
                shop_id=sandbox_shop.id,
                cipher=sandbox_shop.cipher,
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
    other = seed_shop(wiring, access_ttl=5 * DAY)  # another seller: untouched
    sandbox.expire_access_token(grant.access_token)
    assert wiring.client.get_warehouses(stored[0].access())
    new = access_token(wiring, us.id)
    assert new != grant.access_token and access_token(wiring, uk.id) == new
    assert access_token(wiring, other.shop_id) == other.tokens.access_token.get_secret_value()
    # The UK shop's caller still holds the old token: it gets the stored one, no second refresh.
    assert [w.name for w in wiring.client.get_warehouses(stored[1].access())] == ["London"]
    assert len(sandbox.requests("/api/v2/token/refresh")) == 1


def test_expired_access_token_is_refreshed_once_through_the_store(wiring: Wiring) -> None:
    shop = seed_shop(wiring, access_ttl=5 * DAY)
    wiring.sandbox.seed_warehouse(shop.shop_id, name="Main")
    old = shop.tokens.access_token.get_secret_value()
    wiring.sandbox.expire_access_token(old)
    warehouses = wiring.client.get_warehouses(shop.access())
    assert [w.name for w in warehouses] == ["Main"]
    new = access_token(wiring, shop.shop_id)
    assert new != old
    calls = wiring.sandbox.requests("/logistics/202309/warehouses")
    assert [c["headers"]["x-tts-access-token"] for c in calls] == [old, new]
    assert [c["code"] for c in calls] == [105002, 0]
    assert len(wiring.sandbox.requests("/api/v2/token/refresh")) == 1
    # A second caller still holding the old token gets the stored one, no second refresh.
    assert wiring.client.get_warehouses(shop.access())
    assert len(wiring.sandbox.requests("/api/v2/token/refresh")) == 1


# ---------------------------------------------------------------- ops console events


def test_console_events_are_valid_and_force_a_refresh(wiring: Wiring) -> None:
    shop = seed_shop(wiring, access_ttl=6 * DAY, shop_id="7494049642642441621")
    scheduled = json.loads((CONSOLE_EVENTS / "token_refresh_scheduled.json").read_text())
    assert token_refresh(scheduled)["not_due"] == 1
    one_shop = json.loads((CONSOLE_EVENTS / "token_refresh_one_shop.json").read_text())
    assert one_shop == {"shop_id": shop.shop_id}
    assert token_refresh(one_shop) == {"shop_id": shop.shop_id, "outcome": "refreshed"}
    assert access_token(wiring, shop.shop_id) != shop.tokens.access_token.get_secret_value()


@pytest.mark.parametrize(
    ("reason", "status_after", "reason_after"),
    [
        ("refresh_refused", ShopStatus.ACTIVE, ""),
        ("refresh_token_expired", ShopStatus.ACTIVE, ""),
        ("authorization_expiring", ShopStatus.REAUTHORIZATION_REQUIRED, "authorization_expiring"),
    ],
)
def test_a_successful_console_refresh_clears_only_refresh_failures(
    wiring: Wiring, reason: str, status_after: ShopStatus, reason_after: str
) -> None:
    shop = seed_shop(wiring, access_ttl=6 * DAY)
    assert wiring.store.mark(
        shop.shop_id, ShopStatus.REAUTHORIZATION_REQUIRED, reason, 0, event_time=None
    )
    assert token_refresh({"shop_id": shop.shop_id})["outcome"] == "refreshed"
    stored = wiring.store.get(shop.shop_id)
    assert stored is not None and stored.tokens is not None
    assert stored.tokens.access_token != shop.tokens.access_token  # type: ignore[union-attr]
    assert (stored.status, stored.status_reason) == (status_after, reason_after)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "shop_id: Field required"),
        ({"shop_id": ""}, "shop_id: String should have at least 1 character"),
        ({"shop_id": "1", "force": True}, "force: Extra inputs are not permitted"),
        ({"shopId": "1"}, "shopId: Extra inputs are not permitted"),
        ({"shop_id": "7494/../x"}, "shop_id: String should match pattern"),
        ([], "expected a JSON object"),
    ],
)
def test_bad_console_event_gets_a_precise_error(wiring: Wiring, event, message) -> None:
    with pytest.raises(InvalidTokenRefreshEventError, match=message.replace("(", r"\(")) as error:
        token_refresh(event)
    assert "shop_id" in str(error.value)


def test_console_refresh_of_an_unknown_shop_names_it(wiring: Wiring) -> None:
    with pytest.raises(UnknownShopError, match="'404404'"):
        token_refresh({"shop_id": "404404"})


def test_the_scheduled_run_reports_the_shops_it_reached_by_token_status(
    wiring: Wiring, capsys
) -> None:
    for _ in range(2):
        seed_shop(wiring, access_ttl=6 * DAY)
    expiring = seed_shop(wiring, access_ttl=6 * DAY)
    assert wiring.store.mark(
        expiring.shop_id,
        ShopStatus.REAUTHORIZATION_REQUIRED,
        "authorization_expiring",
        0,
        event_time=None,
    )
    capsys.readouterr()
    report = token_refresh(SCHEDULED_EVENT)
    assert report["by_status"] == {"active": 2, "reauthorization_required": 1}
    output = capsys.readouterr().out
    metrics = emitted_metrics(output)
    # Gauges for the dashboard, every status each run (zeros too, so the line is drawn).
    assert metrics.count("ShopsActive") == 2
    assert metrics.count("ShopsReauthorizationRequired") == 1
    assert '"ShopsDeauthorized":[0.0]' in output.replace(" ", "")
