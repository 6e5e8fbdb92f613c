"""The spend ledger: periods that follow what vp-tui sees, totals that stay true.

The last test is the one that matters most: on both platforms of the demo
cloud, renting, stopping, starting and destroying leaves the ledger agreeing
with what the accounts' balances say was spent (within 2 %).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vp_tui.bootstrap import Context, build_context
from vp_tui.core.models import Instance, InstanceState, LaunchSpec, PlatformName
from vp_tui.platforms.base import OfferQuery
from vp_tui.services.ledger import Ledger, local_midnight
from vp_tui.services.store import Store
from vp_tui.sim.server import DemoCloud

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    """A clock that moves only when told, for both the demo cloud and the ledger."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def pod(
    state: InstanceState, *, price: float = 1.0, storage: float = 0.1, id: str = "a"
) -> Instance:
    return Instance(
        platform="runpod",
        instance_id=id,
        gpu="RTX 4090",
        state=state,
        price_per_hour=price,
        storage_price_per_hour=storage,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock) -> Ledger:
    return Ledger(Store(tmp_path / "store.sqlite3"), clock=clock)


def test_periods_follow_state_and_rate(ledger: Ledger, clock: Clock) -> None:
    ledger.record_launch(pod(InstanceState.PROVISIONING))
    clock.advance(hours=2)
    ledger.observe([pod(InstanceState.RUNNING)], ["runpod"])  # same rate: one period
    clock.advance(hours=1)
    ledger.observe([pod(InstanceState.STOPPED)], ["runpod"])  # storage from here
    clock.advance(hours=10)
    assert ledger.spent() == pytest.approx(3 * 1.0 + 10 * 0.1)
    (row,) = ledger.rows()
    assert row.started_by_us and row.ended_at is None and row.rate == pytest.approx(0.1)
    assert row.started_at == T0


def test_a_failed_listing_ends_nothing_and_a_good_one_ends_the_missing(
    ledger: Ledger, clock: Clock
) -> None:
    ledger.observe([pod(InstanceState.RUNNING)], ["runpod"])
    clock.advance(hours=1)
    ledger.observe([], [])  # RunPod did not answer: the pod may still be billing
    clock.advance(hours=1)
    assert ledger.rows()[0].ended_at is None
    assert ledger.spent() == pytest.approx(2.0)
    ledger.observe([], ["runpod"])  # a complete listing without it: gone
    clock.advance(hours=5)
    (row,) = ledger.rows()
    assert row.ended_at == T0 + timedelta(hours=2) and row.state == "terminated"
    assert ledger.spent() == pytest.approx(2.0)  # the spend of a gone instance stays


def test_instances_made_elsewhere_are_recorded_as_such(ledger: Ledger, clock: Clock) -> None:
    ledger.record_launch(pod(InstanceState.RUNNING, id="ours"))
    ledger.observe([pod(InstanceState.RUNNING, id="ours"), pod(InstanceState.RUNNING, id="theirs")])
    assert ledger.started_by_us("runpod", "ours") is True
    assert ledger.started_by_us("runpod", "theirs") is False
    assert ledger.started_by_us("runpod", "never") is None


def test_totals_today_month_and_since(ledger: Ledger, clock: Clock) -> None:
    clock.now = local_midnight(T0) + timedelta(hours=6)
    ledger.observe([pod(InstanceState.RUNNING, price=2.0)], ["runpod"])
    clock.advance(days=1)  # 6 a.m. the next day: 6 h today, 30 h in all
    totals = ledger.totals()
    assert totals.today == pytest.approx(12.0)
    assert totals.since == totals.month
    assert totals.per_platform["runpod"]["today"] == pytest.approx(12.0)
    since = ledger.totals(since=clock.now - timedelta(hours=1))
    assert since.since == pytest.approx(2.0)


# ------------------------------------------------------------------------------ vs the balance


@pytest.fixture
def demo(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DemoCloud, Context]]:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    with DemoCloud(tmp_path / "demo", boot_seconds=60, faults="", clock=clock.timestamp) as cloud:
        context = build_context(demo_cloud=cloud, data_dir=tmp_path / "data")
        assert context.fleet.ledger is not None
        context.fleet.ledger.clock = clock
        try:
            yield cloud, context
        finally:
            context.close()


@pytest.mark.parametrize(("platform", "gpu"), [("vast", "RTX 4090"), ("runpod", "RTX A4000")])
def test_the_ledger_agrees_with_the_balance(
    demo: tuple[DemoCloud, Context], clock: Clock, platform: PlatformName, gpu: str
) -> None:
    _cloud, context = demo
    fleet, adapter = context.fleet, context.fleet.platform(platform)
    if platform == "runpod":  # a volume, so that a stopped pod bills something
        adapter.settings = adapter.settings.model_copy(update={"volume_gb": 20})  # type: ignore[attr-defined]
    before = adapter.account().balance
    assert before is not None
    offers = context.market.refresh(
        OfferQuery(gpus=(gpu,), interruptible=False), platforms=[platform]
    )
    offer = next(o for o in offers.offers if o.gpu_count == 1)
    spec = LaunchSpec(image="runpod/base:0.1", max_price_per_hour=5.0)
    instance = fleet.create(offer, spec, wait=False)
    clock.advance(hours=2)
    fleet.list()
    fleet.stop(instance.instance_id, platform, poll_seconds=0)
    clock.advance(hours=5)
    fleet.start(instance.instance_id, platform, wait=False)
    fleet.list()
    clock.advance(hours=1, minutes=30)
    fleet.list()
    fleet.destroy(instance.instance_id, platform, poll_seconds=0)
    clock.advance(hours=3)  # nothing more is billed once it is gone
    after = adapter.account().balance
    assert after is not None
    billed = before - after
    assert billed > 0.5
    ledger = fleet.ledger
    assert ledger is not None
    assert ledger.spent(platform=platform) == pytest.approx(billed, rel=0.02)
    (row,) = [r for r in ledger.rows() if r.platform == platform]
    assert row.ended_at is not None and row.started_by_us
