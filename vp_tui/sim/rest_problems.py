"""RFC 9457 problem bodies and a small JSON-body checker for RunPod's REST API v2 emulator.

Every REST v2 error is ``application/problem+json``:
``{"title", "status", "detail"}`` plus, for validation failures, ``"errors"``:
a list of messages in the style of RunPod's validator
(``$: additional properties 'x' not allowed``, ``$.disk: got string, want integer``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from vp_tui.sim.faults import HttpResponse

PROBLEM_TYPE = "application/problem+json"
VALIDATION_FAILED = "Request validation failed."


def problem(
    status: int,
    detail: str,
    errors: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """A problem+json response with ``status``'s standard title."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    payload: dict[str, Any] = {"title": title, "status": status, "detail": detail}
    if errors:
        payload["errors"] = list(errors)
    response = HttpResponse(status, json.dumps(payload).encode(), PROBLEM_TYPE)
    response.headers.update(headers or {})
    return response


@dataclass
class Problem(Exception):
    """An error a handler answers with: raised anywhere, turned into a problem response."""

    status: int
    detail: str
    errors: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.detail}"

    def response(self) -> HttpResponse:
        """The problem+json response for this error."""
        return problem(self.status, self.detail, self.errors, self.headers)


def invalid(*errors: str) -> Problem:
    """A 422 validation failure listing ``errors``."""
    return Problem(422, VALIDATION_FAILED, list(errors))


def json_type(value: Any) -> str:
    """The JSON Schema type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


Check = Callable[[Any, str, list[str]], None]
"""A field check: ``(value, JSON path, errors)``; appends what is wrong to ``errors``."""


def of_type(name: str) -> Check:
    """A check that the value has JSON type ``name``."""

    def check(value: Any, where: str, errors: list[str]) -> None:
        if json_type(value) != name:
            errors.append(f"{where}: got {json_type(value)}, want {name}")

    return check


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    """A check for a whole number within bounds."""

    def check(value: Any, where: str, errors: list[str]) -> None:
        if json_type(value) != "integer":
            errors.append(f"{where}: got {json_type(value)}, want integer")
        elif minimum is not None and value < minimum:
            errors.append(f"{where}: minimum: got {value}, want {minimum}")
        elif maximum is not None and value > maximum:
            errors.append(f"{where}: maximum: got {value}, want {maximum}")

    return check


def one_of(*choices: str) -> Check:
    """A check for a string among ``choices``."""

    def check(value: Any, where: str, errors: list[str]) -> None:
        if value not in choices:
            wanted = ", ".join(repr(c) for c in choices)
            errors.append(f"{where}: value must be one of {wanted}")

    return check


def matching(pattern: str) -> Check:
    """A check for a string matching a regular expression."""
    compiled = re.compile(pattern)

    def check(value: Any, where: str, errors: list[str]) -> None:
        if not isinstance(value, str):
            errors.append(f"{where}: got {json_type(value)}, want string")
        elif compiled.fullmatch(value) is None:
            errors.append(f"{where}: {value!r} does not match pattern {pattern!r}")

    return check


def array_of(item: Check, max_items: int | None = None) -> Check:
    """A check for an array whose every item passes ``item``."""

    def check(value: Any, where: str, errors: list[str]) -> None:
        if not isinstance(value, list):
            errors.append(f"{where}: got {json_type(value)}, want array")
            return
        if max_items is not None and len(value) > max_items:
            errors.append(f"{where}: maxItems: got {len(value)}, want {max_items}")
        for index, element in enumerate(value):
            item(element, f"{where}[{index}]", errors)

    return check


def map_of(item: Check) -> Check:
    """A check for an object whose every value passes ``item``."""

    def check(value: Any, where: str, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(f"{where}: got {json_type(value)}, want object")
            return
        for key, element in value.items():
            item(element, f"{where}.{key}", errors)

    return check


def obj(fields: Mapping[str, Check], required: tuple[str, ...] = ()) -> Check:
    """A check for an object with exactly the named ``fields`` (no additional properties)."""

    def check(value: Any, where: str, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(f"{where}: got {json_type(value)}, want object")
            return
        extra = [k for k in value if k not in fields]
        if extra:
            names = ", ".join(repr(k) for k in extra)
            errors.append(f"{where}: additional properties {names} not allowed")
        for name in required:
            if name not in value:
                errors.append(f"{where}: missing property {name!r}")
        for name, field_check in fields.items():
            if name in value:
                field_check(value[name], f"{where}.{name}", errors)

    return check


def validate(body: Any, schema: Check) -> None:
    """Raise a 422 :class:`Problem` listing everything ``body`` breaks in ``schema``."""
    errors: list[str] = []
    schema(body, "$", errors)
    if errors:
        raise invalid(*errors)
