"""Fleet lookups and destroys whose answers fail: a failed lookup is not an absence, and a
destroy whose answer was cut short is verified by re-listing before it is reported."""

from __future__ import annotations

import time
from typing import Any

import pytest

from vp_tui.bootstrap import Context
from vp_tui.platforms.base import AuthError, NotFound, Platform, PlatformError
from vp_tui.services.fleet import DestroyUnverified, Fleet
from vp_tui.sim.server import DemoCloud

pytest_plugins = ["demo_fixtures"]

from demo_helpers import rent  # noqa: E402


class FaultyDestroy:
    """A platform adapter whose destroy request alone meets the demo cloud's ``fault``."""

    def __init__(self, inner: Platform, cloud: DemoCloud, fault: str) -> None:
        self.inner = inner
        self.cloud = cloud
        self.fault = fault

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def destroy_instance(self, instance_id: str) -> None:
        """The real destroy, sent while the fault is on."""
        self.cloud.set_faults(self.fault)
        try:
            self.inner.destroy_instance(instance_id)
        finally:
            self.cloud.set_faults("")


def fleet_with_faulty_destroy(context: Context, cloud: DemoCloud, fault: str) -> Fleet:
    adapter = FaultyDestroy(context.fleet.platforms["vast"], cloud, fault)
    return Fleet({"vast": adapter})


def test_find_reports_a_failed_lookup_as_the_platforms_error(
    context: Context, demo_cloud: DemoCloud
) -> None:
    instance = rent(context)
    demo_cloud.set_faults("vast:error=503")
    for platform in ("vast", None):
        with pytest.raises(PlatformError) as raised:
            context.fleet.find(instance.instance_id, platform)
        assert not isinstance(raised.value, NotFound)
        assert "no instance" not in str(raised.value) and "503" in str(raised.value)
    demo_cloud.set_faults("")
    assert context.fleet.find(instance.instance_id, "vast").instance_id == instance.instance_id


def test_find_of_an_unknown_instance_is_not_found(context: Context) -> None:
    with pytest.raises(NotFound, match="no instance"):
        context.fleet.find("99999999", "vast")


def test_destroy_with_a_cut_off_answer_is_verified_by_listing(
    context: Context, demo_cloud: DemoCloud
) -> None:
    instance = rent(context)
    fleet = fleet_with_faulty_destroy(context, demo_cloud, "vast:malformed")
    fleet.destroy(instance.instance_id, "vast", timeout=10, poll_seconds=0.1)
    listed = [i.instance_id for i in context.fleet.list(["vast"]).instances]
    assert instance.instance_id not in listed


def test_destroy_that_failed_and_left_the_instance_listed_says_so(
    context: Context, demo_cloud: DemoCloud
) -> None:
    instance = rent(context)
    fleet = fleet_with_faulty_destroy(context, demo_cloud, "vast:error=502")
    with pytest.raises(DestroyUnverified) as raised:
        fleet.destroy(instance.instance_id, "vast", timeout=0.5, poll_seconds=0.1)
    message = str(raised.value)
    assert "may or may not have been accepted" in message and "still listed" in message
    assert "502" in message and "billing" in message
    assert context.fleet.find(instance.instance_id, "vast").instance_id == instance.instance_id
    context.fleet.destroy(instance.instance_id, "vast", timeout=10, poll_seconds=0.1)


def test_destroy_with_a_rejected_key_is_reported_at_once(
    context: Context, demo_cloud: DemoCloud
) -> None:
    instance = rent(context)
    fleet = fleet_with_faulty_destroy(context, demo_cloud, "vast:auth")
    began = time.monotonic()
    with pytest.raises(AuthError):
        fleet.destroy(instance.instance_id, "vast", timeout=30, poll_seconds=0.1)
    assert time.monotonic() - began < 10
    assert context.fleet.find(instance.instance_id, "vast").instance_id == instance.instance_id
