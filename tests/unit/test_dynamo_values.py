"""tts_sync.dynamo_values follows boto3's TypeSerializer/TypeDeserializer for JSON-dump values."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from tts_sync.dynamo_values import from_attribute, to_attribute

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)
    | st.decimals(
        allow_nan=False, allow_infinity=False, places=6, max_value=10**20, min_value=-(10**20)
    )
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(_json_values)
def test_values_serialize_and_come_back_as_boto3_does(value):
    attribute = to_attribute(value)
    assert attribute == TypeSerializer().serialize(value)
    assert from_attribute(attribute) == TypeDeserializer().deserialize(attribute)


@pytest.mark.parametrize("value", [{"a", "b"}, {1, Decimal("2.5")}])
def test_sets_of_strings_or_numbers(value):
    attribute = to_attribute(value)
    expected = TypeSerializer().serialize(value)
    assert {k: sorted(v) for k, v in attribute.items()} == {
        k: sorted(v) for k, v in expected.items()
    }
    assert from_attribute(attribute) == TypeDeserializer().deserialize(attribute)


def test_numbers_come_back_as_decimal_with_every_digit():
    attribute = to_attribute(123456789012345678901234567890)
    assert attribute == {"N": "123456789012345678901234567890"}
    back = from_attribute(attribute)
    assert isinstance(back, Decimal) and back == 123456789012345678901234567890


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "Float types are not supported"),
        (Decimal("Infinity"), "Infinity and NaN"),
        (object(), "Unsupported type"),
    ],
)
def test_what_boto3_refuses_is_refused(value, message):
    with pytest.raises(TypeError, match=message):
        to_attribute(value)
    with pytest.raises(TypeError, match=message):
        TypeSerializer().serialize(value)


def test_a_number_dynamodb_cannot_hold_exactly_is_refused_like_boto3():
    too_long = 10**40 + 1
    with pytest.raises(Exception) as ours:
        to_attribute(too_long)
    with pytest.raises(Exception) as theirs:
        TypeSerializer().serialize(too_long)
    assert type(ours.value) is type(theirs.value)


def test_an_unknown_attribute_type_is_refused():
    with pytest.raises(TypeError, match="not supported"):
        from_attribute({"X": "1"})
    with pytest.raises(TypeError, match="nonempty"):
        from_attribute({})
