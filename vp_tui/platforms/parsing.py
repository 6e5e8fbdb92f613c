"""Lenient readers for provider JSON: a value of the wrong kind becomes None, never an error."""

from __future__ import annotations

import math
from typing import Any


def as_number(value: Any) -> float | None:
    """A finite number from an int, float or numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_int(value: Any) -> int | None:
    """A whole number (as int, float or string) that fits a float exactly; None otherwise."""
    number = as_number(value)
    if number is None or number != int(number) or abs(number) > 2**53:
        return None
    return int(number)


def as_text(value: Any) -> str | None:
    """A non-blank string, stripped; None otherwise."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
