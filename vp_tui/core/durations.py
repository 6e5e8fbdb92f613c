"""Durations as people type them: ``20s``, ``30m``, ``2h``, ``1h30m``, or plain seconds."""

from __future__ import annotations

import math
import re

__all__ = ["format_span", "parse_duration"]

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.IGNORECASE)
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text`` (``20s``, ``30m``, ``2h``, ``1h30m``, ``1.5h``, ``45``).

    Raises ``ValueError`` with a readable message for anything else, and for
    durations that are not positive.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration like 30m or 2h")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        raw = text.strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", raw):
            seconds = float(raw)
        else:
            parts = _PART.findall(raw)
            if not parts or "".join(f"{n}{u}" for n, u in parts) != raw.replace(" ", ""):
                raise ValueError(f"{text!r} is not a duration like 20s, 30m, 2h or 1h30m")
            seconds = sum(float(n) * _UNITS[u.lower()] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds


def format_span(seconds: float) -> str:
    """``1h30m``-style text for a duration (the inverse of :func:`parse_duration`)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    text += f"{secs}s" if secs or not text else ""
    return text
