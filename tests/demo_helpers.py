"""Helpers for tests on the demo cloud."""

from __future__ import annotations

from vp_tui.bootstrap import Context
from vp_tui.core.models import Instance, LaunchSpec
from vp_tui.platforms.base import OfferQuery


def rent(context: Context, platform: str = "vast", gpu: str = "RTX 4090") -> Instance:
    """Create an instance on the demo cloud and wait until it is reachable."""
    result = context.market.refresh(
        OfferQuery(gpus=(gpu,), interruptible=False),
        platforms=[platform],  # type: ignore[list-item]
    )
    offer = next(o for o in result.offers if o.gpu_count == 1 or o.max_gpu_count)
    spec = LaunchSpec(image="pytorch/pytorch", label="test", max_price_per_hour=10)
    return context.fleet.create(offer, spec, wait=True, timeout=60, poll_seconds=0.2)
