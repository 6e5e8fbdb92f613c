"""Price history as numbers: the points one market refresh adds, and sparklines of them.

A point is the cheapest $/GPU-h of one GPU model on one platform, on-demand or
interruptible, at one moment, with how many offers there were. The store keeps
them (:mod:`vp_tui.services.price_history`); this module only shapes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from vp_tui.core.models import Offer

__all__ = ["SPARK_BLOCKS", "PricePoint", "price_points", "sparkline"]

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
"""The bars of a sparkline, lowest first."""


@dataclass(frozen=True, slots=True)
class PricePoint:
    """The cheapest offer of one series (GPU model, platform, kind) at one moment."""

    gpu: str
    """Canonical GPU name, else the provider's own spelling."""
    platform: str
    interruptible: bool
    """True for interruptible (spot/bid) offers, False for on-demand ones."""
    price_per_gpu_hour: float
    """The cheapest $/h for one GPU among the series' offers."""
    offers: int
    """How many offers the series had."""
    at: datetime


def price_points(offers: Iterable[Offer], at: datetime) -> list[PricePoint]:
    """One point per (GPU model, platform, kind) of ``offers``, all at ``at``."""
    cheapest: dict[tuple[str, str, bool], float] = {}
    counts: dict[tuple[str, str, bool], int] = {}
    for offer in offers:
        price = offer.price_per_hour / offer.gpu_count
        if not math.isfinite(price) or price < 0:
            continue
        key = (offer.gpu or offer.gpu_raw, offer.platform, offer.interruptible)
        counts[key] = counts.get(key, 0) + 1
        current = cheapest.get(key)
        if current is None or price < current:
            cheapest[key] = price
    points = []
    for series in sorted(cheapest):
        gpu, name, spot = series
        points.append(PricePoint(gpu, name, spot, cheapest[series], counts[series], at))
    return points


def sparkline(values: Sequence[float | None]) -> str:
    """Block characters for ``values`` (a blank for None); "" when every value is None.

    The cheapest value gets the lowest bar and the dearest the highest; a series that
    never moved is drawn at mid height.
    """
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    top = len(SPARK_BLOCKS) - 1
    chars = []
    for value in values:
        if value is None:
            chars.append(" ")
        elif high == low:
            chars.append(SPARK_BLOCKS[top // 2])
        else:
            chars.append(SPARK_BLOCKS[round((value - low) / (high - low) * top)])
    return "".join(chars)
