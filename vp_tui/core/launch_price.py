"""What a launch will cost before it is rented: $/h, $/day, how long a balance lasts.

Both faces show these figures before renting, and the price-cap check uses the
same $/h, so the dialog, the command line and the refusal agree.
"""

from __future__ import annotations

from vp_tui.core.models import Offer

__all__ = ["HOURS_PER_DAY", "balance_lasts_seconds", "launch_price", "per_day"]

HOURS_PER_DAY = 24.0


def launch_price(offer: Offer, gpu_count: int = 1, bid: float | None = None) -> float:
    """$/h of renting ``offer`` with ``gpu_count`` GPUs (where the offer lets you
    choose) or, for an interruptible offer, at ``bid`` (already for all GPUs) plus
    the storage the offer's price carries above its minimum bid."""
    if offer.interruptible and bid:
        storage = offer.price_per_hour - offer.min_bid if offer.min_bid is not None else 0.0
        return bid + max(0.0, storage)
    price = offer.price_per_hour
    if offer.max_gpu_count is not None and gpu_count > 1:
        price = price * gpu_count / max(1, offer.gpu_count)
    return price


def per_day(dollars_per_hour: float) -> float:
    """What a day at ``dollars_per_hour`` costs."""
    return dollars_per_hour * HOURS_PER_DAY


def balance_lasts_seconds(balance: float | None, dollars_per_hour: float) -> float | None:
    """How long ``balance`` pays for ``dollars_per_hour``; None when unknown or free."""
    if balance is None or dollars_per_hour <= 0:
        return None
    return max(0.0, balance) / dollars_per_hour * 3600.0
