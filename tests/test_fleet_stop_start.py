"""Fleet.stop/start verify the new state through the real SDKs against the demo cloud:
a failed lookup confirms nothing, a timeout names the last state, a stop event cancels."""

from __future__ import annotations

import threading
import time

import pytest

from vp_tui.bootstrap import Context
from vp_tui.core.cancel import Cancelled
from vp_tui.core.models import Instance, InstanceState, LaunchSpec
from vp_tui.platforms.base import OfferQuery
from vp_tui.services.fleet import Fleet, StateUnverified
from vp_tui.sim.server import DemoCloud

pytest_plugins = ["demo_fixtures"]


def launch(context: Context) -> Instance:
    """A new Vast instance on the demo cloud, not waited for."""
    result = context.market.refresh(
        OfferQuery(gpus=("RTX 4090",), interruptible=False), platforms=["vast"]
    )
    offer = next(o for o in result.offers if o.gpu_count == 1)
    spec = LaunchSpec(image="pytorch/pytorch", label="stop-start", max_price_per_hour=10)
    return context.fleet.create(offer, spec, wait=False)


def test_stop_returns_the_instance_seen_stopped(context: Context) -> None:
    instance = launch(context)
    seen = context.fleet.stop(instance.instance_id, "vast", poll_seconds=0.1)
    assert seen is not None and seen.state is InstanceState.STOPPED
    assert context.fleet.stop(instance.instance_id, "vast", wait=False) is None


def test_a_failing_lookup_is_not_a_confirmation(context: Context, demo_cloud: DemoCloud) -> None:
    instance = launch(context)
    context.fleet.stop(instance.instance_id, "vast", poll_seconds=0.1)
    demo_cloud.cloud.boot_seconds = 60.0

    def sleep_then_fail(seconds: float) -> None:
        demo_cloud.set_faults("vast:error=500")  # every lookup after the first fails
        time.sleep(seconds)

    fleet = Fleet(context.platforms, sleep=sleep_then_fail)
    with pytest.raises(StateUnverified) as caught:
        fleet.start(instance.instance_id, "vast", timeout=1.0, poll_seconds=0.1)
    message = str(caught.value)
    assert "not running" in message and "last seen starting" in message
    assert "latest check failed" in message and "500" in message


def test_a_stop_event_cancels_the_wait(context: Context, demo_cloud: DemoCloud) -> None:
    instance = launch(context)
    context.fleet.stop(instance.instance_id, "vast", poll_seconds=0.1)
    demo_cloud.cloud.boot_seconds = 60.0
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    began = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            context.fleet.start(instance.instance_id, "vast", timeout=60, poll_seconds=5, stop=stop)
    finally:
        timer.cancel()
    assert time.monotonic() - began < 30  # not the 60 s timeout, nor a whole 5 s poll after
