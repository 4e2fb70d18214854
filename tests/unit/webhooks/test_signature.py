"""Webhook signature: HMAC-SHA256(app_secret, app_key + raw body), hex, bare in Authorization."""

import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tts_sync.webhooks.signature import SignatureCheck, sign, verify

APP_KEY = "6abc123"
SECRET = b"s3cr3t"
BODY = b'{"type":1,"shop_id":"7494","timestamp":1764230000,"data":{}}'


def test_sign_is_hmac_sha256_of_app_key_then_raw_body():
    expected = hmac.new(SECRET, b"6abc123" + BODY, hashlib.sha256).hexdigest()
    assert sign(APP_KEY, BODY, SECRET) == expected


def test_sign_known_vector():
    # Computed once with `printf '%s' 'keyhello' | openssl dgst -sha256 -hmac secret`.
    assert sign("key", b"hello", b"secret") == (
        "5947a5f611222d5f69a68d4cf0a9d0d3c98ec0733ce4211800e585a21c0e11d7"
    )


def test_valid_signature_accepted_in_any_hex_case_and_with_surrounding_space():
    signature = sign(APP_KEY, BODY, SECRET)
    assert verify(APP_KEY, BODY, signature, [SECRET]) is SignatureCheck.VALID
    assert verify(APP_KEY, BODY, signature.upper(), [SECRET]) is SignatureCheck.VALID
    assert verify(APP_KEY, BODY, f" {signature}\t", [SECRET]) is SignatureCheck.VALID


def test_previous_secret_accepted_during_rotation_but_not_a_third():
    signed_with_old = sign(APP_KEY, BODY, b"old")
    assert verify(APP_KEY, BODY, signed_with_old, [SECRET, b"old"]) is SignatureCheck.VALID
    assert verify(APP_KEY, BODY, signed_with_old, [SECRET]) is SignatureCheck.MISMATCH
    assert verify(APP_KEY, BODY, sign(APP_KEY, BODY, b"other"), [SECRET, b"old"]) is (
        SignatureCheck.MISMATCH
    )


@pytest.mark.parametrize(
    ("header", "check"),
    [
        (None, SignatureCheck.MISSING),
        ("", SignatureCheck.MISSING),
        ("   ", SignatureCheck.MISSING),
        ("Bearer x", SignatureCheck.MALFORMED),
        ("Bearer " + "a" * 64, SignatureCheck.MALFORMED),
        ("a" * 63, SignatureCheck.MALFORMED),
        ("a" * 65, SignatureCheck.MALFORMED),
        ("g" * 64, SignatureCheck.MALFORMED),
        ("é" * 64, SignatureCheck.MALFORMED),
        ("٣" * 64, SignatureCheck.MALFORMED),  # non-ASCII digits pass str.isdigit()
        ("a" * 64, SignatureCheck.MISMATCH),
    ],
)
def test_bad_headers_are_refused_without_raising(header, check):
    assert verify(APP_KEY, BODY, header, [SECRET]) is check


def test_reserialised_json_with_same_content_fails():
    signature = sign(APP_KEY, BODY, SECRET)
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY
    assert verify(APP_KEY, reserialised, signature, [SECRET]) is SignatureCheck.MISMATCH


def test_wrong_app_key_fails():
    signature = sign(APP_KEY, BODY, SECRET)
    assert verify("other-key", BODY, signature, [SECRET]) is SignatureCheck.MISMATCH


@given(body=st.binary(max_size=2048))
def test_any_bytes_round_trip(body):
    assert verify(APP_KEY, body, sign(APP_KEY, body, SECRET), [SECRET]) is SignatureCheck.VALID


@given(body=st.binary(min_size=1, max_size=512), data=st.data())
def test_any_single_byte_change_is_refused(body, data):
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert verify(APP_KEY, tampered, sign(APP_KEY, body, SECRET), [SECRET]) is (
        SignatureCheck.MISMATCH
    )


@given(body=st.binary(max_size=256), extra=st.binary(min_size=1, max_size=8))
def test_appended_or_truncated_bytes_are_refused(body, extra):
    signature = sign(APP_KEY, body, SECRET)
    assert verify(APP_KEY, body + extra, signature, [SECRET]) is SignatureCheck.MISMATCH
    if body:
        assert verify(APP_KEY, body[:-1], signature, [SECRET]) is SignatureCheck.MISMATCH


@given(header=st.text(max_size=80))
def test_arbitrary_header_text_never_raises_nor_passes(header):
    assert verify(APP_KEY, BODY, header, [SECRET]) is not SignatureCheck.VALID
