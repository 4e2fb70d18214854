"""Signing from first principles: the recipe rebuilt by hand, plus digests computed once with
`openssl dgst -sha256 -hmac` and Python's hmac and hard-coded here."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tts_local.sandbox.signature import api_signature
from tts_sync.tiktok.signing import sign, string_to_sign, timestamp_param

STOCK_PATH = "/product/202309/products/1729/inventory/update"
STOCK_QUERY = {
    "timestamp": "1700000000",
    "shop_cipher": "ROW_x",
    "app_key": "abc123",
    "sign": "must-be-ignored",
    "access_token": "must-be-ignored-too",
}
STOCK_BODY = b'{"skus":[]}'


def test_string_to_sign_is_path_then_sorted_pairs_then_raw_body() -> None:
    expected = (
        b"/product/202309/products/1729/inventory/update"
        b"app_keyabc123"
        b"shop_cipherROW_x"
        b"timestamp1700000000"
        b'{"skus":[]}'
    )
    assert string_to_sign(STOCK_PATH, STOCK_QUERY, STOCK_BODY) == expected


def test_signature_matches_hard_coded_digest_with_body() -> None:
    # printf '%s' 's3cr3t/product/202309/products/1729/inventory/updateapp_keyabc123shop_cipher
    #   ROW_xtimestamp1700000000{"skus":[]}s3cr3t' | openssl dgst -sha256 -hmac 's3cr3t'
    assert (
        sign(STOCK_PATH, STOCK_QUERY, STOCK_BODY, "s3cr3t")
        == "7a1de6b13b65affef575cb9b7261724e8218675dfb882b5cd9e66bd17662060c"
    )


def test_signature_matches_hard_coded_digest_without_body() -> None:
    query = {"app_key": "6abcdefg", "timestamp": "1700000123"}
    assert (
        sign("/authorization/202309/shops", query, None, "topsecret")
        == "fb74f3fb62a394597ee690bf81ac8a8c81111157bb81671d3a24144d143b4f5a"
    )
    assert sign("/authorization/202309/shops", query, b"", "topsecret") == sign(
        "/authorization/202309/shops", query, None, "topsecret"
    )


def test_multipart_body_is_not_signed() -> None:
    query = {"app_key": "k", "timestamp": "1700000000"}
    with_file = sign("/product/202309/images/upload", query, b"--boundary...", "s", multipart=True)
    assert with_file == sign("/product/202309/images/upload", query, None, "s")


def test_signature_is_lowercase_hex_and_changes_with_every_input() -> None:
    base = sign(STOCK_PATH, STOCK_QUERY, STOCK_BODY, "s3cr3t")
    assert base == base.lower() and len(base) == 64
    assert sign(STOCK_PATH + "x", STOCK_QUERY, STOCK_BODY, "s3cr3t") != base
    assert (
        sign(STOCK_PATH, {**STOCK_QUERY, "timestamp": "1700000001"}, STOCK_BODY, "s3cr3t") != base
    )
    assert sign(STOCK_PATH, STOCK_QUERY, b'{"skus": []}', "s3cr3t") != base
    assert sign(STOCK_PATH, STOCK_QUERY, STOCK_BODY, "s3cr3T") != base
    # ...but not with the excluded parameters.
    assert sign(STOCK_PATH, {**STOCK_QUERY, "sign": "other"}, STOCK_BODY, "s3cr3t") == base
    assert sign(STOCK_PATH, {**STOCK_QUERY, "access_token": "x"}, STOCK_BODY, "s3cr3t") == base


def test_timestamp_is_ten_digit_unix_seconds() -> None:
    assert timestamp_param(1_700_000_000.987) == "1700000000"
    assert len(timestamp_param(1_795_000_000.0)) == 10


keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@given(
    path=st.from_regex(r"/[a-z]{1,8}/202309/[a-z0-9_/]{1,20}", fullmatch=True),
    query=st.dictionaries(keys, values, max_size=6),
    body=st.binary(max_size=200),
    secret=st.text(min_size=1, max_size=40),
)
def test_client_and_independent_sandbox_implementation_agree(
    path: str, query: dict[str, str], body: bytes, secret: str
) -> None:
    assert sign(path, query, body, secret) == api_signature(path, query, body, secret)


@given(query=st.dictionaries(keys, values, min_size=2, max_size=6))
def test_insertion_order_of_query_does_not_matter(query: dict[str, str]) -> None:
    reordered = dict(reversed(list(query.items())))
    assert sign("/p", query, b"", "s") == sign("/p", reordered, b"", "s")
