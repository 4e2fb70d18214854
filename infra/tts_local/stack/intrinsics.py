"""Resolves CloudFormation intrinsic functions against the local stack's resources.

Resource references are answered by a callback, so the caller can create a referenced resource on
first use (CloudFormation's dependency order falls out of the recursion).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

NO_VALUE = object()  # AWS::NoValue: the enclosing key or list item disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class IntrinsicError(Exception):
    """An intrinsic function the template uses cannot be resolved locally."""


AttributeLookup = Callable[[str, str | None], Any]  # (logical id, attribute or None for Ref)


class Resolver:
    def __init__(
        self,
        *,
        parameters: dict[str, Any],
        pseudo: dict[str, str],
        conditions: dict[str, Any],
        mappings: dict[str, Any],
        lookup: AttributeLookup,
    ) -> None:
        self._parameters = parameters
        self._pseudo = pseudo
        self._conditions = conditions
        self._mappings = mappings
        self._lookup = lookup
        self._condition_cache: dict[str, bool] = {}

    def resolve(self, value: Any) -> Any:
        resolved = self._resolve(value)
        return None if resolved is NO_VALUE else resolved

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self._conditions:
                raise IntrinsicError(f"unknown condition {name!r}")
            self._condition_cache[name] = bool(self._resolve(self._conditions[name]))
        return self._condition_cache[name]

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = (self._resolve(item) for item in value)
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            handler = self._FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
        resolved = {key: self._resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        return self._lookup(name, None)

    def _fn_ref(self, argument: Any) -> Any:
        return self.ref(self._resolve(argument))

    def _fn_get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = (self._resolve(part) for part in argument)
        return self._lookup(logical_id, attribute)

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self._resolve(argument[1])
        else:
            text, variables = argument, {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is an escaped literal
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self._lookup(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(substitute, text)

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = self._resolve(argument)
        return str(delimiter).join(str(item) for item in items)

    def _fn_select(self, argument: Any) -> Any:
        index, items = self._resolve(argument)
        return items[int(index)]

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = self._resolve(argument)
        return str(text).split(delimiter)

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self._resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = self._resolve(argument)
        return str(left) == str(right)

    def _fn_and(self, argument: Any) -> bool:
        return all(self._resolve(item) for item in argument)

    def _fn_or(self, argument: Any) -> bool:
        return any(self._resolve(item) for item in argument)

    def _fn_not(self, argument: Any) -> bool:
        return not self._resolve(argument[0])

    def _fn_find_in_map(self, argument: Any) -> Any:
        name, first, second = self._resolve(argument)[:3]
        return self._mappings[name][first][second]

    def _fn_base64(self, argument: Any) -> str:
        import base64

        return base64.b64encode(str(self._resolve(argument)).encode()).decode()

    def _fn_get_azs(self, argument: Any) -> list[str]:
        region = self._resolve(argument) or self._pseudo["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def _fn_import_value(self, argument: Any) -> Any:
        raise IntrinsicError(f"Fn::ImportValue {argument!r}: no other stacks exist locally")

    _FUNCTIONS: ClassVar[dict[str, Callable[[Resolver, Any], Any]]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Sub": _fn_sub,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Fn::Not": _fn_not,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::Base64": _fn_base64,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::ImportValue": _fn_import_value,
    }
