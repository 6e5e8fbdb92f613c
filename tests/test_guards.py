"""The guards, shown working on the demo cloud with short durations.

A budget hit stops or destroys what vp-tui started and says so; an idle
instance is stopped; an instance launched with a maximum lifetime, or a lease
nobody renews, tears itself down with no vp-tui running (its watchdog asks
the demo cloud with the instance's own credential).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vp_tui.bootstrap import Context, build_context
from vp_tui.cli import main as vp
from vp_tui.core.models import Instance, LaunchSpec, PlatformName
from vp_tui.platforms.base import OfferQuery
from vp_tui.services.guards import Guards
from vp_tui.sim.server import DemoCloud

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    """One clock, moved by hand, for the demo cloud, the ledger and the guards."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """'Today' and 'this month' start at UTC midnight whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def rent(context: Context, platform: PlatformName, gpu: str, *, wait: bool = False) -> Instance:
    result = context.market.refresh(
        OfferQuery(gpus=(gpu,), interruptible=False), platforms=[platform]
    )
    offer = next(o for o in result.offers if o.gpu_count == 1)
    spec = LaunchSpec(image="runpod/base:0.1", max_price_per_hour=5.0)
    return context.fleet.create(offer, spec, wait=wait, timeout=60, poll_seconds=0.2)


@pytest.fixture
def frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DemoCloud, Context, Clock]]:
    clock = Clock()
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    with DemoCloud(tmp_path / "demo", boot_seconds=60, faults="", clock=clock.timestamp) as cloud:
        context = build_context(demo_cloud=cloud, data_dir=tmp_path / "data")
        assert context.fleet.ledger is not None and context.guards is not None
        context.fleet.ledger.clock = clock
        context.guards.clock = clock
        try:
            yield cloud, context, clock
        finally:
            context.close()


def guards_of(context: Context) -> Guards:
    assert context.guards is not None
    return context.guards


@pytest.mark.parametrize("action", ["stop", "destroy"])
def test_a_budget_hit_acts_on_what_vp_tui_started_and_says_so(
    frozen: tuple[DemoCloud, Context, Clock], action: str
) -> None:
    cloud, context, clock = frozen
    settings = context.settings
    settings.budget.daily_usd = 2.0
    settings.budget.action = action  # type: ignore[assignment]
    ours = rent(context, "vast", "RTX 4090")  # about $0.25/h
    ask = int(
        context.market.refresh(OfferQuery(interruptible=False), platforms=["vast"])
        .offers[3]
        .offer_id
    )
    theirs = cloud.cloud.create_vast(ask, image="pytorch/pytorch")  # made elsewhere
    context.fleet.list()  # the ledger sees it, not started by vp-tui
    clock.now += timedelta(hours=6)  # about $1.5 of $2: a warning
    report = guards_of(context).check()
    assert [e.kind for e in report.events if e.guard == "budget"] == ["warn"]
    assert report.exit_code == 3
    clock.now += timedelta(hours=4)  # over the daily budget
    report = guards_of(context).check()
    acted = [e for e in report.events if e.kind == action]
    assert [e.instance for e in acted] == [ours.key]
    assert acted[0].verified and "daily budget" in acted[0].message
    assert report.exit_code == 4
    left = {i.instance_id: i for i in context.fleet.list().instances}
    if action == "destroy":
        assert ours.instance_id not in left
    else:
        assert left[ours.instance_id].state == "stopped"
    assert theirs.id in left and left[theirs.id].state != "stopped"  # not ours: untouched


def test_guard_once_reports_in_json_with_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "0.3")
    monkeypatch.delenv("VP_SIM_FAULTS", raising=False)
    assert vp(["--demo", "guard", "--once", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == 0 and report["events"] == []
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:error=500")
    assert vp(["--demo", "guard", "--once", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert any(e["kind"] == "failed" and "runpod" in e["message"] for e in report["events"])


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DemoCloud, Context]]:
    """A demo cloud on the real clock, with instances that boot at once."""
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    with DemoCloud(tmp_path / "demo", boot_seconds=0.3, faults="") as cloud:
        context = build_context(demo_cloud=cloud, data_dir=tmp_path / "data")
        try:
            yield cloud, context
        finally:
            context.close()


def gone_after(cloud: DemoCloud, platform: str, instance_id: str, limit: float) -> float:
    """Seconds until the demo cloud no longer has the instance (fails after ``limit``)."""
    started = time.monotonic()
    while cloud.cloud.get(platform, instance_id) is not None:
        if time.monotonic() - started > limit:
            pytest.fail(f"{platform} {instance_id} still there after {limit:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started


@pytest.mark.parametrize(("platform", "gpu"), [("vast", "RTX 4090"), ("runpod", "RTX A4000")])
def test_a_max_lifetime_holds_with_no_vp_tui_running(
    live: tuple[DemoCloud, Context], platform: PlatformName, gpu: str
) -> None:
    cloud, context = live
    instance = rent(context, platform, gpu, wait=True)
    armed = time.monotonic()
    guards_of(context).arm(instance, max_lifetime=20)
    context.close()  # no vp-tui engine from here on: only the watchdog on the instance
    waited = gone_after(cloud, platform, instance.instance_id, 45)
    total = time.monotonic() - armed
    assert 20 <= total <= 40, (waited, total)


def test_a_lease_nobody_renews_tears_the_instance_down(live: tuple[DemoCloud, Context]) -> None:
    cloud, context = live
    instance = rent(context, "vast", "RTX 4090", wait=True)
    guards = guards_of(context)
    guards.arm(instance, lease=8, action="destroy")
    for _ in range(6):  # 12 s of renewals: the instance stays
        report = guards.check(act=False)
        assert any(e.kind == "renew" for e in report.events)
        time.sleep(2)
    assert cloud.cloud.get("vast", instance.instance_id) is not None
    context.close()  # nobody renews any more
    waited = gone_after(cloud, "vast", instance.instance_id, 30)
    assert waited >= 2


def test_an_idle_instance_is_stopped(frozen: tuple[DemoCloud, Context, Clock]) -> None:
    _cloud, context, clock = frozen
    context.settings.idle.after = 600.0
    context.settings.idle.action = "stop"
    instance = rent(context, "vast", "RTX 4090")
    clock.now += timedelta(minutes=2)  # booted; no job runs, so its GPU idles
    first = guards_of(context).check()
    assert not first.acted  # idle, but not for long enough yet
    clock.now += timedelta(minutes=11)
    report = guards_of(context).check()
    (stopped,) = [e for e in report.events if e.kind == "stop"]
    assert stopped.instance == instance.key and stopped.verified
    assert "idle for" in stopped.message
    listed = {i.instance_id: i for i in context.fleet.list().instances}
    assert listed[instance.instance_id].state == "stopped"


def test_an_idle_stop_on_the_instance_holds_with_no_vp_tui_running(
    live: tuple[DemoCloud, Context],
) -> None:
    cloud, context = live
    instance = rent(context, "runpod", "RTX A4000", wait=True)
    armed = time.monotonic()
    guards_of(context).arm(instance, idle=8)
    context.close()  # no job runs and nobody watches: the watchdog decides
    gone_after(cloud, "runpod", instance.instance_id, 40)
    assert time.monotonic() - armed >= 8
