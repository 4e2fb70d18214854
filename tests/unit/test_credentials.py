"""CredentialsProvider: parsing, rate-limited forced refresh, loud failure on a malformed secret."""

import pytest

from tts_sync.credentials import CredentialsProvider
from tts_sync.errors import ConfigError

GOOD = {"app_key": "k", "app_secret": "s"}


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_first_forced_refresh_works_even_in_a_brand_new_container():
    fetches: list[bool] = []
    provider = CredentialsProvider(
        lambda force: fetches.append(force) or GOOD, clock=FakeClock(0.5)
    )
    assert provider.refresh() is not None
    assert fetches == [True]


def test_forced_refresh_is_rate_limited():
    clock = FakeClock(100.0)
    fetches: list[bool] = []
    provider = CredentialsProvider(lambda force: fetches.append(force) or GOOD, 30, clock)
    assert provider.refresh() is not None
    clock.now += 29
    assert provider.refresh() is None
    clock.now += 2
    assert provider.refresh() is not None
    assert fetches == [True, True]


def test_previous_secret_is_offered_only_when_set():
    provider = CredentialsProvider(lambda _: {**GOOD, "previous_app_secret": ""})
    assert provider.get().webhook_secrets == (b"s",)
    provider = CredentialsProvider(lambda _: {**GOOD, "previous_app_secret": "old"})
    assert provider.get().webhook_secrets == (b"s", b"old")


@pytest.mark.parametrize(
    "document",
    [{"app_key": "k"}, {"app_secret": "s3cr3t-value"}, {"app_key": "", "app_secret": "x"}, None],
)
def test_malformed_secret_is_a_loud_config_error(document):
    provider = CredentialsProvider(lambda _: document)
    with pytest.raises(ConfigError, match="malformed"):
        provider.get()


def test_malformed_secret_error_never_echoes_a_value():
    provider = CredentialsProvider(lambda _: {"app_secret": "s3cr3t-value", "app_key": 7})
    with pytest.raises(ConfigError) as caught:
        provider.get()
    assert "s3cr3t-value" not in str(caught.value)
    assert "app_key" in str(caught.value)
