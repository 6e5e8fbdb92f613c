"""Formatting and arithmetic of money and durations for display."""

from __future__ import annotations

import math


def format_price(dollars_per_hour: float | None, digits: int = 3) -> str:
    """``$0.327/h``-style text for a price, ``-`` when unknown."""
    if dollars_per_hour is None or not math.isfinite(dollars_per_hour):
        return "-"
    return f"${dollars_per_hour:.{digits}f}"


def format_money(dollars: float | None) -> str:
    """``$12.34``-style text for an amount, ``-`` when unknown."""
    if dollars is None or not math.isfinite(dollars):
        return "-"
    if abs(dollars) < 10:
        return f"${dollars:.2f}"
    return f"${dollars:,.2f}"


def format_duration(seconds: float | None) -> str:
    """``3h 05m``-style text for a duration, ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def cost(dollars_per_hour: float, seconds: float) -> float:
    """What ``seconds`` at ``dollars_per_hour`` costs."""
    return dollars_per_hour * max(0.0, seconds) / 3600.0
