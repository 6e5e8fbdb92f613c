"""What instances cost: the one home of burn rate and spend, for both faces.

The rule: an instance bills its compute price (all GPUs) while it is billing compute
(provisioning, starting, running, frozen, stopping) and its storage price while it is
stopped; one in an error or unknown state is counted at its price too (it still
holds its machine), and a terminated one at nothing. Spend is estimated from what
the platform reports now (uptime of the current up-period, $/h), so it covers the
current up-period only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from vp_tui.core.models import Instance
from vp_tui.core.money import cost
from vp_tui.core.states import InstanceState

__all__ = ["burn_rate", "hourly_rate", "spent_since", "spent_so_far"]


def hourly_rate(instance: Instance) -> float:
    """What ``instance`` bills now, $/h: compute while up, storage while stopped.

    A failed or unknown instance still holds its machine until it is destroyed (Vast
    bills a container that exited or an offline host, RunPod a pod in ``ERROR``), so it
    counts at its price: better a burn rate that is too high than a bill nobody saw.
    """
    if instance.state.is_billing_compute:
        return instance.price_per_hour
    if instance.state is InstanceState.STOPPED:
        return instance.storage_price_per_hour
    if instance.state in (InstanceState.ERROR, InstanceState.UNKNOWN):
        return instance.price_per_hour
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
        if instance.state.is_billing_compute:
            uptime = instance.uptime_at(now)
            if uptime is None:
                continue
        elif instance.started_at is not None:  # billing in this state since it was created
            uptime = max(0.0, (now - instance.started_at).total_seconds())
        else:
            uptime = window
        total += cost(rate, min(window, uptime))
    return total
