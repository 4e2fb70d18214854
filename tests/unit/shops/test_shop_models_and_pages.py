"""Pure pieces of onboarding and tokens: no network."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from tts_sync.shops.http import page, public_base_url
from tts_sync.shops.models import OAuthState, Shop, ShopNotUsableError, ShopStatus, ShopTokens
from tts_sync.shops.onboarding import STATE_TTL_SECONDS, AuthorizeSettings, start_authorization
from tts_sync.shops.tokens import RefreshPolicy

TOKENS = ShopTokens(
    access_token=SecretStr("TTP_secret_access"),
    access_token_expires_at=1_000_000,
    refresh_token=SecretStr("TTR_secret_refresh"),
    refresh_token_expires_at=9_000_000,
)


class States:
    def __init__(self) -> None:
        self.saved: list[OAuthState] = []

    def put(self, state: OAuthState) -> None:
        self.saved.append(state)

    def consume(self, state: str) -> OAuthState | None:
        return None


@pytest.mark.parametrize(
    ("domain", "configured", "expected"),
    [
        (
            "abc.execute-api.eu-west-1.amazonaws.com",
            "",
            "https://abc.execute-api.eu-west-1.amazonaws.com",
        ),
        ("127.0.0.1:3055", "", "http://127.0.0.1:3055"),
        ("localhost:3000", "", "http://localhost:3000"),
        ("[::1]:3000", "", "http://[::1]:3000"),
        ("localhost.evil.test", "", "https://localhost.evil.test"),
        (
            "abc.execute-api.amazonaws.com",
            "https://shops.example.com/",
            "https://shops.example.com",
        ),
    ],
)
def test_public_base_url(domain: str, configured: str, expected: str) -> None:
    assert public_base_url(domain, configured) == expected


def test_public_base_url_needs_a_domain_or_the_setting() -> None:
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        public_base_url(None, "")


def test_tokens_never_show_in_reprs() -> None:
    shop = Shop(shop_id="1", cipher="c", tokens=TOKENS)
    for text in (repr(shop), str(shop), repr(TOKENS), shop.model_dump_json()):
        assert "TTP_secret_access" not in text and "TTR_secret_refresh" not in text
    assert "TTP_secret_access" not in repr(shop.access())
    state = OAuthState(state="unguessable", created_at=0, expires_at=1)
    assert "unguessable" not in repr(state)


def test_a_deauthorized_shop_gives_no_access() -> None:
    shop = Shop(shop_id="1", cipher="c", tokens=TOKENS, status=ShopStatus.DEAUTHORIZED)
    with pytest.raises(ShopNotUsableError, match="deauthorized"):
        shop.access()


@pytest.mark.parametrize(
    ("seconds_left", "due"),
    [(49 * 3600, False), (48 * 3600, False), (48 * 3600 - 1, True), (-5, True)],
)
def test_refresh_policy_uses_absolute_expiry(seconds_left: int, due: bool) -> None:
    now = TOKENS.access_token_expires_at - seconds_left
    assert RefreshPolicy(48 * 3600).is_due(TOKENS, now) is due


def test_authorize_url_prefers_service_id_and_stores_an_expiring_state() -> None:
    states = States()
    url = start_authorization(
        states,
        AuthorizeSettings("https://services.tiktokshop.com/open/authorize", "key", "7123"),
        "https://api.example.com/oauth/tiktok/callback",
        now=1_000,
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["service_id"] == "7123" and "app_key" not in query
    assert query["state"] == states.saved[0].state
    assert states.saved[0].expires_at == 1_000 + STATE_TTL_SECONDS
    other = States()
    start_authorization(other, AuthorizeSettings("https://x.test/a?y=1", "key"), "https://r", 0)
    assert other.saved[0].state != states.saved[0].state


def test_pages_escape_text() -> None:
    response = page(400, "<b>t</b>", "<script>x</script> & co")
    assert "<script>" not in response.body and "&lt;b&gt;" in response.body
    assert response.status_code == 400
