"""Token replies that miss or mangle a field: a permanent error that never quotes the tokens."""

from __future__ import annotations

import json

import httpx
import pytest

from tts_sync.tiktok import TikTokClient, TikTokPermanentError

SECRET_ACCESS = "TTP_would_leak_if_quoted"
SECRET_REFRESH = "TTR_would_leak_if_quoted"


def client_answering(data: dict) -> TikTokClient:
    def reply(request: httpx.Request) -> httpx.Response:
        body = {"code": 0, "message": "success", "request_id": "req-1", "data": data}
        return httpx.Response(200, content=json.dumps(body).encode())

    return TikTokClient("key", "secret", http=httpx.Client(transport=httpx.MockTransport(reply)))


@pytest.mark.parametrize(
    "data",
    [
        {"access_token": SECRET_ACCESS, "access_token_expire_in": 1, "refresh_token_expire_in": 2},
        {
            "access_token": SECRET_ACCESS,
            "access_token_expire_in": "in a week",
            "refresh_token": SECRET_REFRESH,
            "refresh_token_expire_in": 2,
        },
        {"access_token": [SECRET_ACCESS], "refresh_token": {"value": SECRET_REFRESH}},
    ],
    ids=["missing-refresh-token", "bad-expiry", "wrong-types"],
)
@pytest.mark.parametrize("call", ["refresh", "get"])
def test_a_malformed_token_reply_is_permanent_and_quotes_no_token(data: dict, call: str) -> None:
    client = client_answering(data)
    with pytest.raises(TikTokPermanentError) as raised:
        if call == "refresh":
            client.refresh_access_token("TTR_sent")
        else:
            client.get_access_token("AC_sent")
    error = raised.value
    text = f"{error} {error!r} {error.message} {error.__cause__} {error.__context__}"
    assert "malformed token reply" in str(error)
    assert SECRET_ACCESS not in text and SECRET_REFRESH not in text
    assert error.__cause__ is None
    assert "refresh_token" in error.message or "expire_in" in error.message
