"""What instances cost: the one home of burn rate and spend, for both faces.

The rule: an instance bills its compute price (all GPUs) while it is billing compute
(provisioning, starting, running, stopping) and its storage price while it is
stopped; a terminated instance, or one in an error or unknown state, is counted at
nothing here. Spend is estimated from what the platform reports now (uptime of the
current up-period, $/h), so it covers the current up-period only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from vp_tui.core.models import Instance
from vp_tui.core.money import cost
from vp_tui.core.states import InstanceState

__all__ = ["burn_rate", "hourly_rate", "spent_since", "spent_so_far"]


def hourly_rate(instance: Instance) -> float:
    """What ``instance`` bills now, $/h: compute while up, storage while stopped."""
    if instance.state.is_billing_compute:
        return instance.price_per_hour
    if instance.state is InstanceState.STOPPED:
        return instance.storage_price_per_hour
    return 0.0


def burn_rate(instances: Iterable[Instance]) -> float:
    """$/h of everything that bills now (the sum of :func:`hourly_rate`)."""
    return sum((hourly_rate(instance) for instance in instances), 0.0)


def spent_so_far(instance: Instance, now: datetime) -> float | None:
    """Dollars of compute billed in the instance's current up-period at ``now``.

    None when that is not known: the instance is not billing compute (a stopped
    instance's past runs are not in what the platform reports) or no uptime is given.
    """
    if not instance.state.is_billing_compute:
        return None
    uptime = instance.uptime_at(now)
    if uptime is None:
        return None
    return cost(instance.price_per_hour, uptime)


def spent_since(instances: Iterable[Instance], since: datetime, now: datetime) -> float:
    """Dollars the instances billed between ``since`` and ``now`` (e.g. today so far).

    Each instance counts at :func:`hourly_rate` for the part of the window it has been in
    its current state: since it came up for compute (from its uptime; unknown uptime
    counts nothing), or the whole window for storage while stopped (or since it was
    created, when the platform says so).
    """
    window = max(0.0, (now - since).total_seconds())
    total = 0.0
    for instance in instances:
        rate = hourly_rate(instance)
        if rate <= 0.0:
            continue
        uptime = instance.uptime_at(now)
        if uptime is None:
            if instance.state.is_billing_compute:
                continue
            uptime = window
        total += cost(rate, min(window, uptime))
    return total
