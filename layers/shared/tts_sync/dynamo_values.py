"""Plain Python values to DynamoDB attribute values and back, for the adapters that store a
model's JSON dump as an item (orders).

The same rules as boto3.dynamodb.types (TypeSerializer/TypeDeserializer) for the types a JSON
dump holds: numbers go through DynamoDB's decimal context (38 digits, exact or refused), come
back as Decimal, floats are refused. Importing boto3 for those two classes loaded boto3,
s3transfer and the resource machinery into every function that reads orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# boto3.dynamodb.types.DYNAMODB_CONTEXT: a number DynamoDB cannot hold exactly is an error.
DYNAMODB_CONTEXT = Context(
    Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)


def to_attribute(value: Any) -> dict[str, Any]:
    """One value as a DynamoDB attribute value: None, bool, int/Decimal, str, list/tuple,
    mapping; sets of numbers or strings. Anything else (float, bytes) raises TypeError."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (set, frozenset)) and value:
        if all(_is_number(member) for member in value):
            return {"NS": [_number(member) for member in value]}
        if all(isinstance(member, str) for member in value):
            return {"SS": list(value)}
    if isinstance(value, Mapping):
        return {"M": {key: to_attribute(member) for key, member in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attribute(member) for member in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value as plain Python: numbers as Decimal, sets as sets."""
    if not attribute:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind, value = next(iter(attribute.items()))
    if kind == "S":
        return value
    if kind == "N":
        return DYNAMODB_CONTEXT.create_decimal(value)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "M":
        return {key: from_attribute(member) for key, member in value.items()}
    if kind == "L":
        return [from_attribute(member) for member in value]
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {DYNAMODB_CONTEXT.create_decimal(member) for member in value}
    raise TypeError(f"Dynamodb type {kind} is not supported")


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _number(value: int | Decimal) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number
