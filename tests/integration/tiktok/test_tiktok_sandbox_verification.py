"""The sandbox checks requests the way TikTok does: a correctly signed request passes, and every
single-field mutation of it is refused with TikTok's code."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tts_local.sandbox import DemoData, Sandbox
from tts_sync.tiktok.signing import sign

MUG = "1729582718312380001"
TOTE = "1729582718312380002"
STOCK_PATH = f"/product/202309/products/{MUG}/inventory/update"
BODY = json.dumps(
    {
        "skus": [
            {
                "id": "1729582718312381002",
                "inventory": [{"warehouse_id": "7000000000000001001", "quantity": 4}],
            }
        ]
    },
    separators=(",", ":"),
).encode()


def signed(
    sandbox: Sandbox, path: str, body: bytes, *, cipher: str | None, timestamp: int | None = None
) -> dict[str, str]:
    query = {"app_key": sandbox.app_key, "timestamp": str(timestamp or int(time.time()))}
    if cipher is not None:
        query["shop_cipher"] = cipher
    query["sign"] = sign(path, query, body, sandbox.app_secret)
    return query


def send(
    sandbox: Sandbox,
    path: str,
    query: dict[str, str],
    body: bytes,
    token: str,
    method: str = "POST",
) -> dict[str, Any]:
    response = httpx.request(
        method,
        sandbox.url + path,
        params=query,
        content=body,
        headers={"x-tts-access-token": token, "content-type": "application/json"},
    )
    envelope: dict[str, Any] = response.json()
    assert set(envelope) == {"code", "message", "request_id", "data"}
    envelope["http_status"] = response.status_code
    return envelope


def test_correctly_signed_request_passes(sandbox: Sandbox, demo: DemoData) -> None:
    query = signed(sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher)
    reply = send(sandbox, STOCK_PATH, query, BODY, demo.grant.access_token)
    assert (reply["code"], reply["http_status"], reply["data"]) == (0, 200, {})


def test_signature_over_another_path_is_refused(sandbox: Sandbox, demo: DemoData) -> None:
    query = signed(sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher)
    other = STOCK_PATH.replace(MUG, TOTE)
    assert send(sandbox, other, query, BODY, demo.grant.access_token)["code"] == 106001


@pytest.mark.parametrize("param", ["timestamp", "shop_cipher", "sign", "extra"])
def test_each_query_param_mutation_is_refused(sandbox: Sandbox, demo: DemoData, param: str) -> None:
    query = signed(sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher)
    if param == "timestamp":
        query["timestamp"] = str(int(query["timestamp"]) - 1)
    elif param == "shop_cipher":
        query["shop_cipher"] = query["shop_cipher"] + "x"
    elif param == "sign":
        query["sign"] = query["sign"][:-1] + ("0" if query["sign"][-1] != "0" else "1")
    else:
        query["page_size"] = "10"
    reply = send(sandbox, STOCK_PATH, query, BODY, demo.grant.access_token)
    assert (reply["code"], reply["http_status"]) == (106001, 401)


def test_other_app_key_is_refused(sandbox: Sandbox, demo: DemoData) -> None:
    query = signed(sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher)
    query["app_key"] = "someone-else"
    query["sign"] = sign(STOCK_PATH, query, BODY, sandbox.app_secret)  # even if re-signed
    assert send(sandbox, STOCK_PATH, query, BODY, demo.grant.access_token)["code"] == 36009004


def test_every_single_body_byte_change_is_refused(sandbox: Sandbox, demo: DemoData) -> None:
    query = signed(sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher)
    with httpx.Client() as http:
        for index in range(len(BODY)):
            mutated = bytearray(BODY)
            mutated[index] ^= 0x01
            response = http.post(
                sandbox.url + STOCK_PATH,
                params=query,
                content=bytes(mutated),
                headers={"x-tts-access-token": demo.grant.access_token},
            )
            assert response.json()["code"] == 106001, f"byte {index} accepted"


def test_reserialised_json_with_same_content_is_refused(sandbox: Sandbox, demo: DemoData) -> None:
    query = signed(sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher)
    pretty = json.dumps(json.loads(BODY), indent=1).encode()
    assert send(sandbox, STOCK_PATH, query, pretty, demo.grant.access_token)["code"] == 106001


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-295, True), (-305, False), (25, True), (35, False)]
)
def test_timestamp_window_is_minus_five_minutes_to_plus_thirty_seconds(
    sandbox: Sandbox, demo: DemoData, offset: int, accepted: bool
) -> None:
    query = signed(
        sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher, timestamp=int(time.time()) + offset
    )
    reply = send(sandbox, STOCK_PATH, query, BODY, demo.grant.access_token)
    assert reply["code"] == (0 if accepted else 36009004)


def test_millisecond_timestamp_is_refused(sandbox: Sandbox, demo: DemoData) -> None:
    query = signed(
        sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher, timestamp=int(time.time() * 1000)
    )
    assert send(sandbox, STOCK_PATH, query, BODY, demo.grant.access_token)["code"] == 36009004


def test_unknown_and_expired_tokens_are_refused(sandbox: Sandbox, demo: DemoData) -> None:
    query = signed(sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher)
    assert send(sandbox, STOCK_PATH, query, BODY, "TTP_forged")["code"] == 36009004
    sandbox.expire_access_token(demo.grant.access_token)
    assert send(sandbox, STOCK_PATH, query, BODY, demo.grant.access_token)["code"] == 105002


def test_cipher_rules(sandbox: Sandbox, demo: DemoData) -> None:
    token = demo.grant.access_token
    no_cipher = signed(sandbox, STOCK_PATH, BODY, cipher=None)
    assert send(sandbox, STOCK_PATH, no_cipher, BODY, token)["code"] == 106013
    shops = "/authorization/202309/shops"
    with_cipher = signed(sandbox, shops, b"", cipher=demo.shop.cipher)
    assert send(sandbox, shops, with_cipher, b"", token, "GET")["code"] == 36009004
    without = signed(sandbox, shops, b"", cipher=None)
    assert send(sandbox, shops, without, b"", token, "GET")["code"] == 0
    # A real cipher of a shop this token was not granted.
    stranger = sandbox.seed_shop("999", cipher="ROW_stranger")
    foreign = signed(sandbox, STOCK_PATH, BODY, cipher=stranger.cipher)
    assert send(sandbox, STOCK_PATH, foreign, BODY, token)["code"] == 36009004


def test_per_shop_qps_throttles_with_429(sandbox: Sandbox, demo: DemoData) -> None:
    sandbox.set_shop_qps(demo.shop.id, 3)
    codes = []
    for _ in range(6):
        query = signed(sandbox, STOCK_PATH, BODY, cipher=demo.shop.cipher)
        reply = send(sandbox, STOCK_PATH, query, BODY, demo.grant.access_token)
        codes.append((reply["code"], reply["http_status"]))
    assert codes[:3] == [(0, 200)] * 3
    assert (36009002, 429) in codes[3:]


def test_update_stock_rejects_more_than_100_skus(sandbox: Sandbox, demo: DemoData) -> None:
    body = json.dumps(
        {"skus": [{"id": str(i), "inventory": []} for i in range(101)]}, separators=(",", ":")
    ).encode()
    query = signed(sandbox, STOCK_PATH, body, cipher=demo.shop.cipher)
    assert send(sandbox, STOCK_PATH, query, body, demo.grant.access_token)["code"] == 36009004


def test_zero_stock_can_be_refused_per_item(demo: DemoData) -> None:
    with Sandbox("k", "s", accept_zero_stock=False) as strict:
        strict.seed_demo_data()
        grant = strict.issue_token([demo.shop.id])
        body = BODY.replace(b'"quantity":4', b'"quantity":0')
        query = signed(strict, STOCK_PATH, body, cipher=demo.shop.cipher)
        reply = send(strict, STOCK_PATH, query, body, grant.access_token)
        assert reply["code"] == 0
        assert reply["data"]["errors"][0]["detail"]["sku_id"] == "1729582718312381002"


def test_consent_page_redirects_with_code_and_state(sandbox: Sandbox, demo: DemoData) -> None:
    response = httpx.get(
        sandbox.url + "/oauth/authorize",
        params={"app_key": sandbox.app_key, "state": "s-1", "redirect_uri": "http://x.test/cb?a=1"},
    )
    assert response.status_code == 302
    target = httpx.URL(response.headers["location"])
    assert target.params["a"] == "1" and target.params["state"] == "s-1"
    assert target.params["code"].startswith("AC_")
    wrong = httpx.get(
        sandbox.url + "/oauth/authorize",
        params={"app_key": "nope", "state": "s", "redirect_uri": "http://x.test/cb"},
    )
    assert wrong.status_code == 400


def test_consent_path_is_configurable_like_the_real_service_id_url() -> None:
    with Sandbox(
        "k",
        "s",
        authorize_path="/open/authorize",
        service_id="svc-1",
        redirect_uri="http://app.test/oauth/callback",
    ) as sandbox:
        response = httpx.get(
            sandbox.url + "/open/authorize", params={"service_id": "svc-1", "state": "abc"}
        )
        assert response.status_code == 302
        assert response.headers["location"].startswith("http://app.test/oauth/callback?code=")


def test_token_host_checks_app_secret(sandbox: Sandbox, demo: DemoData) -> None:
    code = sandbox.create_auth_code([demo.shop.id])
    response = httpx.get(
        sandbox.url + "/api/v2/token/get",
        params={
            "app_key": sandbox.app_key,
            "app_secret": "wrong",
            "auth_code": code,
            "grant_type": "authorized_code",
        },
    )
    assert response.json()["code"] == 36009004


def test_admin_api_seeds_injects_and_exposes_the_request_log(sandbox: Sandbox) -> None:
    admin = sandbox.url + "/_admin"
    seeded = httpx.post(admin + "/seed/demo").json()
    token, cipher = seeded["access_token"], seeded["shop"]["cipher"]
    fault = {"path": "/logistics/*", "kind": "5xx", "count": 1, "status": 502, "code": 36009003}
    assert httpx.post(admin + "/faults", json=fault).status_code == 200
    path = "/logistics/202309/warehouses"
    first = send(sandbox, path, signed(sandbox, path, b"", cipher=cipher), b"", token, "GET")
    second = send(sandbox, path, signed(sandbox, path, b"", cipher=cipher), b"", token, "GET")
    assert (first["http_status"], first["code"], second["code"]) == (502, 36009003, 0)
    log = httpx.get(admin + "/requests", params={"path_prefix": "/logistics/"}).json()
    assert [entry["status"] for entry in log] == [502, 200]
    state = httpx.get(admin + "/state").json()
    assert {w["type"] for w in state["warehouses"]} == {"SALES_WAREHOUSE", "RETURN_WAREHOUSE"}
    assert {o["status"] for o in state["orders"]} >= {"ON_HOLD", "CANCELLED", "IN_TRANSIT"}
    assert httpx.get(admin + "/nothing-here").status_code == 404
    assert httpx.post(admin + "/faults", json={"path": "/x", "kind": "fire"}).status_code == 400
    assert httpx.delete(admin + "/requests").status_code == 200
    assert sandbox.requests() == []


def test_demo_seed_is_deterministic() -> None:
    snapshots = []
    for _ in range(2):
        with Sandbox("k", "s") as fresh:
            demo = fresh.seed_demo_data()
            snapshot = fresh.snapshot()
            snapshot.pop("grants")
            snapshots.append((snapshot, demo.grant.access_token))
    assert snapshots[0] == snapshots[1]
    statuses = {o["status"] for o in snapshots[0][0]["orders"]}
    assert statuses == {
        "UNPAID",
        "ON_HOLD",
        "AWAITING_SHIPMENT",
        "AWAITING_COLLECTION",
        "IN_TRANSIT",
        "DELIVERED",
        "COMPLETED",
        "CANCELLED",
    }
