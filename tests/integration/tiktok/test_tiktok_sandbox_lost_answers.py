"""The sandbox's token host rotating refresh tokens, and faults that strike after the request
was applied (so only the answer is lost), seen over raw HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from tts_local.sandbox import DemoData, Sandbox

REFRESH = "/api/v2/token/refresh"


def refresh(sandbox: Sandbox, refresh_token: str, timeout: float = 5.0) -> httpx.Response:
    query = {
        "app_key": sandbox.app_key,
        "app_secret": sandbox.app_secret,
        "refresh_token": refresh_token,
        "grant_type": "refresh_token",
    }
    return httpx.get(sandbox.url + REFRESH, params=query, timeout=timeout)


def test_a_rotating_token_host_spends_the_refresh_token_it_answered(
    sandbox: Sandbox, demo: DemoData
) -> None:
    sandbox.rotate_refresh_tokens = True
    first = refresh(sandbox, demo.grant.refresh_token).json()
    assert first["code"] == 0
    rotated = first["data"]["refresh_token"]
    assert rotated != demo.grant.refresh_token
    assert first["data"]["refresh_token_expire_in"] == demo.grant.refresh_token_expire_in
    again = refresh(sandbox, demo.grant.refresh_token).json()
    assert again["code"] == 36009004 and "refresh_token" in again["message"]
    assert refresh(sandbox, rotated).json()["code"] == 0


def test_without_rotation_the_refresh_token_carries_over(sandbox: Sandbox, demo: DemoData) -> None:
    data = refresh(sandbox, demo.grant.refresh_token).json()["data"]
    assert data["refresh_token"] == demo.grant.refresh_token
    assert refresh(sandbox, demo.grant.refresh_token).json()["code"] == 0


@pytest.mark.parametrize(
    ("kind", "options", "status"),
    [("5xx", {"status": 502}, 502), ("5xx", {"status": 500, "code": 36009003}, 500)],
)
def test_an_answer_lost_after_applying_still_spent_the_token(
    sandbox: Sandbox, demo: DemoData, kind: str, options: dict, status: int
) -> None:
    sandbox.rotate_refresh_tokens = True
    sandbox.inject_fault(REFRESH, kind, after_apply=True, **options)
    assert refresh(sandbox, demo.grant.refresh_token).status_code == status
    assert refresh(sandbox, demo.grant.refresh_token).json()["code"] == 36009004  # applied


def test_a_garbled_answer_after_applying(sandbox: Sandbox, demo: DemoData) -> None:
    sandbox.rotate_refresh_tokens = True
    sandbox.inject_fault(REFRESH, "garbled", after_apply=True)
    reply = refresh(sandbox, demo.grant.refresh_token)
    assert reply.status_code == 200
    with pytest.raises(ValueError):
        reply.json()
    assert refresh(sandbox, demo.grant.refresh_token).json()["code"] == 36009004


def test_a_timeout_after_applying_answers_too_late(sandbox: Sandbox, demo: DemoData) -> None:
    sandbox.rotate_refresh_tokens = True
    sandbox.inject_fault(REFRESH, "timeout", after_apply=True, sleep_seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        refresh(sandbox, demo.grant.refresh_token, timeout=0.3)
    assert refresh(sandbox, demo.grant.refresh_token).json()["code"] == 36009004


def test_a_timeout_before_applying_changes_nothing(sandbox: Sandbox, demo: DemoData) -> None:
    sandbox.rotate_refresh_tokens = True
    sandbox.inject_fault(REFRESH, "timeout", sleep_seconds=0.6)
    assert refresh(sandbox, demo.grant.refresh_token).status_code == 504
    assert refresh(sandbox, demo.grant.refresh_token).json()["code"] == 0


def test_slow_answers_late_but_answers(sandbox: Sandbox, demo: DemoData) -> None:
    sandbox.inject_fault(REFRESH, "slow", sleep_seconds=0.5)
    started = time.monotonic()
    assert refresh(sandbox, demo.grant.refresh_token).json()["code"] == 0
    assert time.monotonic() - started >= 0.5


def test_after_apply_is_refused_for_kinds_that_apply_nothing(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="after_apply"):
        sandbox.inject_fault(REFRESH, "429", after_apply=True)
