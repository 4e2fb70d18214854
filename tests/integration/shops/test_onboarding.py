"""GET /oauth/tiktok/start and /callback end to end: moto (DynamoDB, Secrets Manager) and the
sandbox's consent page, token host and Event API on loopback."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.shops.conftest import (
    APP_KEY,
    APP_SECRET,
    WEBHOOK_URL,
    Wiring,
    build_client,
    connect,
    consent,
    emitted_metrics,
    oauth_get,
)
from tests.support import template_document
from tts_sync.errors import StorageUnavailableError
from tts_sync.shops.dynamo_store import DynamoOAuthStateStore
from tts_sync.shops.models import OAuthState, ShopStatus, ShopTokens, SubscriptionStatus
from tts_sync.shops.runtime import ShopDependencies, override_dependencies
from tts_sync.shops.subscriptions import WEBHOOK_EVENT_TYPES

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def test_start_redirects_to_consent_with_a_stored_single_use_state(wiring: Wiring) -> None:
    response = oauth_get("/oauth/tiktok/start")
    assert response["statusCode"] == 302
    location = urlsplit(response["headers"]["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        wiring.sandbox.url + "/oauth/authorize"
    )
    assert query["app_key"] == APP_KEY
    assert query["redirect_uri"] == "https://api.tts.test/oauth/tiktok/callback"
    assert len(query["state"]) >= 43  # 32 random bytes, URL-safe
    stored = wiring.dynamodb.get_item(
        TableName=wiring.states._table, Key={"pk": {"S": query["state"]}}
    )["Item"]
    ttl = int(stored["expires_at"]["N"]) - int(time.time())
    assert 590 <= ttl <= 600
    assert oauth_get("/oauth/tiktok/start")["headers"]["Location"] != str(location.geturl())


def test_callback_stores_every_authorized_shop_and_subscribes_its_webhooks(
    wiring: Wiring, capsys
) -> None:
    sandbox = wiring.sandbox
    first, second = sandbox.seed_shop(name="Shop One"), sandbox.seed_shop(name="Shop Two")
    response = connect(sandbox)
    assert response["statusCode"] == 200
    assert "text/html" in response["headers"]["Content-Type"]
    assert "Shop One" in response["body"] and "Shop Two" in response["body"]
    assert response["headers"]["Cache-Control"] == "no-store"

    grant = next(iter(sandbox.state.grants.values()))
    for sandbox_shop in (first, second):
        shop = wiring.store.get(sandbox_shop.id)
        assert shop is not None and shop.status is ShopStatus.ACTIVE
        assert shop.cipher == sandbox_shop.cipher and shop.name == sandbox_shop.name
        assert shop.open_id == grant.open_id
        assert shop.tokens is not None
        assert shop.tokens.access_token.get_secret_value() == grant.access_token
        assert shop.tokens.access_token_expires_at == grant.access_token_expire_in
        assert shop.tokens.refresh_token_expires_at == grant.refresh_token_expire_in
        assert shop.webhook_address == WEBHOOK_URL
        assert shop.subscriptions == dict.fromkeys(
            WEBHOOK_EVENT_TYPES, SubscriptionStatus.SUBSCRIBED
        )
        registered = {
            event_type: address
            for (shop_id, event_type), address in sandbox.state.webhooks.items()
            if shop_id == sandbox_shop.id
        }
        assert registered == dict.fromkeys(WEBHOOK_EVENT_TYPES, WEBHOOK_URL)
    assert len(wiring.items()) == 2
    # Subscriptions went through the Event API, signed, with each shop's cipher.
    puts = [r for r in sandbox.requests("/event/202309/webhooks") if r["method"] == "PUT"]
    assert len(puts) == 2 * len(WEBHOOK_EVENT_TYPES) and all(r["code"] == 0 for r in puts)
    output = capsys.readouterr()
    assert emitted_metrics(output.out).count("ShopConnected") == 2
    for secret in (grant.access_token, grant.refresh_token, APP_SECRET):
        assert secret not in output.out + output.err


def _template() -> dict:
    return template_document(TEMPLATE)


def test_tokens_are_encrypted_at_rest_under_our_own_rotated_key() -> None:
    resources = _template()["Resources"]
    sse = resources["ShopsTable"]["Properties"]["SSESpecification"]
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "ShopTokensKey"}}
    key = resources["ShopTokensKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True


def test_shop_functions_get_per_arn_permissions_and_no_stream_of_their_own() -> None:
    resources = _template()["Resources"]
    for name in ("OAuthFunction", "TokenRefreshFunction"):
        for policy in resources[name]["Properties"]["Policies"]:
            for statement in policy.get("Statement", []):
                assert statement["Resource"] != "*", (name, statement["Sid"])
    events = resources["TokenRefreshFunction"]["Properties"]["Events"]
    # Types 6/7 reach the shop lifecycle through the Events stream's one consumer.
    assert {event["Type"] for event in events.values()} == {"Schedule"}
    assert events["Hourly"]["Properties"]["Schedule"] == "rate(1 hour)"


def test_oauth_routes_are_throttled_and_capped_so_a_flood_cannot_starve_the_webhook() -> None:
    resources = _template()["Resources"]
    oauth = resources["OAuthFunction"]["Properties"]
    assert 1 <= oauth["ReservedConcurrentExecutions"] <= 10
    routes = resources["WebhookApi"]["Properties"]["RouteSettings"]
    for event in oauth["Events"].values():
        key = f"{event['Properties']['Method']} {event['Properties']['Path']}"
        assert routes[key]["ThrottlingRateLimit"] <= 10, key
        assert routes[key]["ThrottlingBurstLimit"] <= 20, key


def test_shop_functions_use_the_key_only_as_dynamodb_needs() -> None:
    resources = _template()["Resources"]
    for name in ("OAuthFunction", "TokenRefreshFunction"):
        [statement] = [
            st
            for policy in resources[name]["Properties"]["Policies"]
            for st in policy.get("Statement", [])
            if st["Sid"] == "ShopTokensKeyThroughDynamoDb"
        ]
        assert sorted(statement["Action"]) == [
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:GenerateDataKey*",
        ]
        assert "kms:ViaService" in statement["Condition"]["StringEquals"]


def test_token_and_oauth_trouble_reaches_the_alarm_topic() -> None:
    resources = _template()["Resources"]
    alarms = {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    watched: dict[str, str] = {}
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        if "MetricName" in alarm:
            watched[alarm["MetricName"] + str(alarm.get("Dimensions"))] = name
        for query in alarm.get("Metrics", []):
            if "MetricStat" in query:
                watched[query["MetricStat"]["Metric"]["MetricName"]] = name
            else:
                watched[query["Expression"]] = name
    text = " ".join(watched)
    for metric in (
        "TokenRunShopErrors",
        "TokenRunDeferred",
        "TokenRefusalBreakerTripped",
        "OAuthUnavailable",
        "OAuthFailed",
        "SUM(TokenRefreshFailed) FROM SCHEMA(TtsSync, service)",
        "SUM(ShopReauthorizationRequired) FROM SCHEMA(TtsSync, service)",
        "TokenRefreshFunction",
    ):
        assert metric in text, metric


def test_public_base_url_parameter_must_be_empty_or_https() -> None:
    import re

    parameter = _template()["Parameters"]["PublicBaseUrl"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("https://shops.example.com")
    assert not pattern.fullmatch("http://shops.example.com")
    assert not pattern.fullmatch("shops.example.com")


def test_the_callback_checks_the_state_on_the_functions_clock(wiring: Wiring) -> None:
    wiring.sandbox.seed_shop()
    started = oauth_get("/oauth/tiktok/start")
    params = consent(wiring.sandbox, started["headers"]["Location"])
    wiring.clock.advance(601)  # past the state's 10 minutes
    response = oauth_get("/oauth/tiktok/callback", params)
    assert response["statusCode"] == 400 and "expired state" in response["body"]
    assert wiring.items() == []


def test_reused_state_is_rejected_and_nothing_more_is_stored(wiring: Wiring, capsys) -> None:
    sandbox = wiring.sandbox
    sandbox.seed_shop()
    started = oauth_get("/oauth/tiktok/start")
    params = consent(sandbox, started["headers"]["Location"])
    assert oauth_get("/oauth/tiktok/callback", params)["statusCode"] == 200
    before = wiring.items()
    token_calls = len(sandbox.requests("/api/v2/token/get"))
    replay = oauth_get("/oauth/tiktok/callback", params)
    assert replay["statusCode"] == 400 and "already used" in replay["body"]
    assert wiring.items() == before
    assert len(sandbox.requests("/api/v2/token/get")) == token_calls
    assert "OAuthStateRejected" in emitted_metrics(capsys.readouterr().out)


def test_unknown_state_is_rejected_before_calling_tiktok(wiring: Wiring) -> None:
    code = wiring.sandbox.create_auth_code([wiring.sandbox.seed_shop().id])
    response = oauth_get("/oauth/tiktok/callback", {"code": code, "state": "forged-state"})
    assert response["statusCode"] == 400
    assert wiring.items() == [] and wiring.sandbox.requests() == []


def test_expired_state_is_rejected_and_consumed(wiring: Wiring) -> None:
    now = int(time.time())
    wiring.states.put(OAuthState(state="s" * 43, created_at=now - 700, expires_at=now - 100))
    code = wiring.sandbox.create_auth_code([wiring.sandbox.seed_shop().id])
    response = oauth_get("/oauth/tiktok/callback", {"code": code, "state": "s" * 43})
    assert response["statusCode"] == 400 and "expired state" in response["body"]
    assert wiring.items() == [] and wiring.sandbox.requests() == []
    assert wiring.states.consume("s" * 43) is None


def test_missing_parameters_are_rejected(wiring: Wiring) -> None:
    assert oauth_get("/oauth/tiktok/callback", {})["statusCode"] == 400
    assert oauth_get("/oauth/tiktok/callback", {"code": "AC_1"})["statusCode"] == 400
    started = oauth_get("/oauth/tiktok/start")
    state = parse_qs(urlsplit(started["headers"]["Location"]).query)["state"][0]
    no_code = oauth_get("/oauth/tiktok/callback", {"state": state})
    assert no_code["statusCode"] == 400 and "declined" in no_code["body"]
    assert wiring.items() == []


def test_a_seller_declining_consent_gets_a_clear_page(wiring: Wiring, capsys) -> None:
    started = oauth_get("/oauth/tiktok/start")
    state = parse_qs(urlsplit(started["headers"]["Location"]).query)["state"][0]
    declined = oauth_get(
        "/oauth/tiktok/callback",
        {"state": state, "error": "access_denied", "error_description": "x"},
    )
    assert declined["statusCode"] == 400
    assert "Connection declined" in declined["body"] and "/oauth/tiktok/start" in declined["body"]
    assert wiring.items() == [] and wiring.sandbox.requests("/api/v2/token/get") == []
    assert "OAuthDeclined" in emitted_metrics(capsys.readouterr().out)


class RecordingStates:
    """The real state store, recording what reaches it."""

    def __init__(self, inner: DynamoOAuthStateStore) -> None:
        self.inner = inner
        self.consumed: list[str] = []

    def put(self, state: OAuthState) -> None:
        self.inner.put(state)

    def consume(self, state: str) -> OAuthState | None:
        self.consumed.append(state)
        return self.inner.consume(state)


@pytest.mark.parametrize(
    "state",
    ["x" * 3000, "s" * 42, "s" * 44, "s" * 42 + "+", "s" * 42 + "\n", "s" * 42 + "é"],
    ids=["oversized", "short", "long", "plus", "newline", "non-ascii"],
)
def test_malformed_state_is_rejected_before_storage(wiring: Wiring, capsys, state: str) -> None:
    states = RecordingStates(wiring.states)
    override_dependencies(
        ShopDependencies(
            shops=wiring.store,
            client=wiring.client,
            states=states,  # type: ignore[arg-type]
        )
    )
    response = oauth_get("/oauth/tiktok/callback", {"code": "AC_1", "state": state})
    assert response["statusCode"] == 400 and "malformed state" in response["body"]
    assert states.consumed == [] and wiring.sandbox.requests() == []
    assert "OAuthStateRejected" in emitted_metrics(capsys.readouterr().out)


def test_storage_failing_on_start_gets_503(wiring: Wiring, capsys) -> None:
    class FailingStates(RecordingStates):
        def put(self, state: OAuthState) -> None:
            raise StorageUnavailableError("ProvisionedThroughputExceededException")

    override_dependencies(
        ShopDependencies(
            shops=wiring.store,
            client=wiring.client,
            states=FailingStates(wiring.states),  # type: ignore[arg-type]
        )
    )
    response = oauth_get("/oauth/tiktok/start")
    assert response["statusCode"] == 503 and "Location" not in response["headers"]
    assert "OAuthUnavailable" in emitted_metrics(capsys.readouterr().out)


def test_token_host_unreachable_gets_503(wiring: Wiring, stack, capsys) -> None:
    wiring.sandbox.seed_shop()
    started = oauth_get("/oauth/tiktok/start")
    params = consent(wiring.sandbox, started["headers"]["Location"])
    dead = build_client(wiring.sandbox, stack, wiring.clock, auth_base_url="http://127.0.0.1:9")
    override_dependencies(ShopDependencies(shops=wiring.store, client=dead, states=wiring.states))
    response = oauth_get("/oauth/tiktok/callback", params)
    dead.close()
    assert response["statusCode"] == 503 and "start the connection again" in response["body"]
    assert wiring.items() == []
    assert "OAuthUnavailable" in emitted_metrics(capsys.readouterr().out)


def test_unexpected_failures_get_a_503_page_that_names_only_the_error_type(
    stack, sandbox, monkeypatch: pytest.MonkeyPatch, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    """Default wiring; the credentials secret cannot be read (CredentialsUnavailableError)."""
    monkeypatch.setenv(
        "APP_CREDENTIALS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone"
    )
    for path in ("/oauth/tiktok/start", "/oauth/tiktok/callback"):
        response = oauth_get(path, {"state": "s" * 43, "code": "AC_1"})
        assert response["statusCode"] == 503
        assert response["headers"]["Content-Type"].startswith("text/html")
        assert response["headers"]["X-Content-Type-Options"] == "nosniff"
    assert emitted_metrics(capsys.readouterr().out).count("OAuthFailed") == 2
    failures = [r for r in caplog.records if r.getMessage() == "oauth request failed"]
    assert [r.__dict__["error_type"] for r in failures] == ["CredentialsUnavailableError"] * 2
    assert all("secret:gone" not in str(r.__dict__) for r in failures)


def test_no_authorized_shop_is_not_called_connected(wiring: Wiring) -> None:
    response = connect(wiring.sandbox)  # the sandbox has no shop to authorize
    assert response["statusCode"] == 200
    assert "No shop connected" in response["body"] and "Shop connected" not in response["body"]
    assert wiring.items() == []


def test_shop_names_are_escaped_on_the_page(wiring: Wiring) -> None:
    wiring.sandbox.seed_shop(name="<script>alert(1)</script>")
    response = connect(wiring.sandbox)
    assert response["statusCode"] == 200
    assert "<script>" not in response["body"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response["body"]


def test_pages_carry_security_headers(wiring: Wiring) -> None:
    wiring.sandbox.seed_shop()
    for response in (
        oauth_get("/oauth/tiktok/start"),
        connect(wiring.sandbox),
        oauth_get("/oauth/tiktok/callback", {}),
    ):
        headers = response["headers"]
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_code_tiktok_rejects_gets_400_with_a_clear_message(wiring: Wiring) -> None:
    started = oauth_get("/oauth/tiktok/start")
    state = parse_qs(urlsplit(started["headers"]["Location"]).query)["state"][0]
    response = oauth_get("/oauth/tiktok/callback", {"code": "AC_not_issued", "state": state})
    assert response["statusCode"] == 400
    assert "did not accept this authorization" in response["body"]
    assert wiring.items() == []


def test_tiktok_unavailable_gets_503_and_the_seller_starts_again(wiring: Wiring) -> None:
    sandbox = wiring.sandbox
    sandbox.seed_shop()
    started = oauth_get("/oauth/tiktok/start")
    params = consent(sandbox, started["headers"]["Location"])
    sandbox.inject_fault("/authorization/202309/shops", "5xx", count=2)
    response = oauth_get("/oauth/tiktok/callback", params)
    assert response["statusCode"] == 503
    assert "start the connection again" in response["body"]
    assert "/oauth/tiktok/start" in response["body"]
    assert wiring.items() == []
    # The state was spent: the same link cannot be replayed.
    assert oauth_get("/oauth/tiktok/callback", params)["statusCode"] == 400


def test_reauthorization_updates_the_shop_in_place(wiring: Wiring) -> None:
    sandbox = wiring.sandbox
    sandbox_shop = sandbox.seed_shop()
    assert connect(sandbox)["statusCode"] == 200
    first = wiring.store.get(sandbox_shop.id)
    assert first is not None and first.tokens is not None
    wiring.store.mark(
        sandbox_shop.id, ShopStatus.REAUTHORIZATION_REQUIRED, "refresh_refused", 0, event_time=None
    )
    again = connect(sandbox)
    assert again["statusCode"] == 200 and "re-authorized" in again["body"]
    second = wiring.store.get(sandbox_shop.id)
    assert second is not None and second.tokens is not None
    assert len(wiring.items()) == 1
    assert second.status is ShopStatus.ACTIVE and second.status_reason == ""
    assert (
        second.tokens.access_token.get_secret_value()
        != first.tokens.access_token.get_secret_value()
    )
    assert second.version > first.version


def test_a_new_consent_replaces_tokens_that_outlive_it(wiring: Wiring) -> None:
    sandbox = wiring.sandbox
    sandbox_shop = sandbox.seed_shop()
    assert connect(sandbox)["statusCode"] == 200
    now = int(time.time())
    lapsed = ShopTokens.model_validate(
        {
            "access_token": "TTP_of_an_old_grant",
            "access_token_expires_at": now + 30 * 86_400,  # outlives the consent's token
            "refresh_token": "TTR_lapsed",
            "refresh_token_expires_at": now - 10,
        }
    )
    wiring.store.save_tokens(sandbox_shop.id, lapsed, now)
    assert connect(sandbox)["statusCode"] == 200
    stored = wiring.store.get(sandbox_shop.id)
    grant = list(sandbox.state.grants.values())[-1]
    assert stored is not None and stored.tokens is not None
    assert stored.tokens.access_token.get_secret_value() == grant.access_token
    assert stored.tokens.refresh_token.get_secret_value() == grant.refresh_token
    assert stored.tokens.refresh_token_expires_at == grant.refresh_token_expire_in
    assert stored.status is ShopStatus.ACTIVE


def test_subscription_failure_is_recorded_per_event_type_and_retried_hourly(
    wiring: Wiring, capsys
) -> None:
    from tests.integration.shops.conftest import SCHEDULED_EVENT, token_refresh

    sandbox = wiring.sandbox
    sandbox_shop = sandbox.seed_shop()
    # Both attempts of the first subscription fail; every other one goes through.
    sandbox.inject_fault("/event/202309/webhooks", "5xx", count=2)
    assert connect(sandbox)["statusCode"] == 200
    shop = wiring.store.get(sandbox_shop.id)
    assert shop is not None
    first_type = WEBHOOK_EVENT_TYPES[0]
    assert shop.subscriptions[first_type] is SubscriptionStatus.FAILED
    assert shop.missing_subscriptions(WEBHOOK_EVENT_TYPES) == (first_type,)
    assert (sandbox_shop.id, first_type) not in sandbox.state.webhooks
    assert "WebhookSubscriptionFailed" in emitted_metrics(capsys.readouterr().out)

    report = token_refresh(SCHEDULED_EVENT)
    assert report["subscriptions_repaired"] == 1 and report["errors"] == 0
    repaired = wiring.store.get(sandbox_shop.id)
    assert repaired is not None and not repaired.missing_subscriptions(WEBHOOK_EVENT_TYPES)
    assert sandbox.state.webhooks[(sandbox_shop.id, first_type)] == WEBHOOK_URL
    # Only the missing one was sent again.
    puts = [r for r in sandbox.requests("/event/202309/webhooks") if r["method"] == "PUT"]
    assert len(puts) == len(WEBHOOK_EVENT_TYPES) + 2


def test_local_stack_domain_gets_an_http_callback(wiring: Wiring) -> None:
    response = oauth_get("/oauth/tiktok/start", domain="127.0.0.1:3055")
    redirect = parse_qs(urlsplit(response["headers"]["Location"]).query)["redirect_uri"][0]
    assert redirect == "http://127.0.0.1:3055/oauth/tiktok/callback"


def test_default_wiring_from_the_environment_connects_a_shop(stack, sandbox, capsys) -> None:
    """No override: config, Secrets Manager credentials, DynamoDB limiter as in Lambda."""
    sandbox_shop = sandbox.seed_shop()
    assert connect(sandbox)["statusCode"] == 200
    items = stack["dynamodb"].scan(TableName=stack["shops"])["Items"]
    assert [item["pk"]["S"] for item in items] == [sandbox_shop.id]
    assert items[0]["status"]["S"] == "active"
    limiter_items = stack["dynamodb"].scan(TableName=stack["ratelimit"])["Items"]
    assert [item["pk"]["S"] for item in limiter_items] == [f"ratelimit#{sandbox_shop.id}"]
    grant = next(iter(sandbox.state.grants.values()))
    output = capsys.readouterr()
    assert grant.access_token not in output.out + output.err
