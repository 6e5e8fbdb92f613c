"""The one rule of burn rate and spend (core.costs), and that every face uses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vp_tui.core import costs
from vp_tui.core.models import Instance, InstanceState
from vp_tui.services import fleet

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MIDNIGHT = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)


def instance(
    state: InstanceState,
    *,
    price: float = 0.6,
    storage: float = 0.03,
    uptime: float | None = None,
    started: datetime | None = None,
) -> Instance:
    return Instance(
        platform="vast",
        instance_id=f"{state}-{price}",
        state=state,
        price_per_hour=price,
        storage_price_per_hour=storage,
        uptime_seconds=uptime,
        started_at=started,
        observed_at=NOW,
    )


@pytest.mark.parametrize(
    ("state", "rate"),
    [
        (InstanceState.PROVISIONING, 0.6),
        (InstanceState.STARTING, 0.6),
        (InstanceState.RUNNING, 0.6),
        (InstanceState.FROZEN, 0.6),
        (InstanceState.STOPPING, 0.6),
        (InstanceState.STOPPED, 0.03),
        (InstanceState.TERMINATING, 0.0),
        (InstanceState.TERMINATED, 0.0),
        (InstanceState.ERROR, 0.6),  # still holds its machine until destroyed
        (InstanceState.UNKNOWN, 0.6),
    ],
)
def test_hourly_rate_is_compute_while_billing_and_storage_while_stopped(
    state: InstanceState, rate: float
) -> None:
    assert costs.hourly_rate(instance(state)) == pytest.approx(rate)


def test_burn_rate_sums_what_bills_now() -> None:
    fleet_now = [
        instance(InstanceState.RUNNING, price=0.5),
        instance(InstanceState.STOPPED, price=2.0, storage=0.05),
        instance(InstanceState.TERMINATED, price=9.0),
    ]
    assert costs.burn_rate(fleet_now) == pytest.approx(0.55)
    assert costs.burn_rate([]) == 0.0
    assert fleet.burn_rate(fleet_now) == costs.burn_rate(fleet_now)


def test_spent_so_far_counts_compute_of_the_current_up_period_only() -> None:
    running = instance(InstanceState.RUNNING, price=0.6, uptime=1800)
    assert costs.spent_so_far(running, NOW) == pytest.approx(0.3)
    assert costs.spent_so_far(running, NOW + timedelta(minutes=30)) == pytest.approx(0.6)
    # a stopped Vast instance still reports when it was created: that is not compute spent
    stopped = instance(InstanceState.STOPPED, started=NOW - timedelta(days=2))
    assert costs.spent_so_far(stopped, NOW) is None
    assert costs.spent_so_far(instance(InstanceState.RUNNING), NOW) is None  # uptime unknown


def test_spent_since_counts_compute_and_the_storage_of_stopped_instances() -> None:
    running = instance(InstanceState.RUNNING, price=0.6, uptime=2 * 3600)
    long_running = instance(InstanceState.RUNNING, price=1.2, started=NOW - timedelta(days=3))
    stopped = instance(InstanceState.STOPPED, storage=0.05, started=NOW - timedelta(days=3))
    stopped_unknown = instance(InstanceState.STOPPED, storage=0.01)
    fresh_stopped = instance(InstanceState.STOPPED, storage=0.1, started=NOW - timedelta(hours=1))
    gone = instance(InstanceState.TERMINATED, price=5.0, uptime=3600)
    no_uptime = instance(InstanceState.STARTING, price=3.0)
    everything = [running, long_running, stopped, stopped_unknown, fresh_stopped, gone, no_uptime]

    expected = (
        0.6 * 2  # up for two hours today
        + 1.2 * 12  # up since before midnight: the whole day so far
        + 0.05 * 12  # stopped, its storage bills all day
        + 0.01 * 12  # stopped, created before we know: the whole window
        + 0.1 * 1  # created an hour ago
    )
    assert costs.spent_since(everything, MIDNIGHT, NOW) == pytest.approx(expected)
    assert fleet.spent_since(everything, MIDNIGHT, NOW) == pytest.approx(expected)
    assert costs.spent_since(everything, NOW + timedelta(hours=1), NOW) == 0.0


def test_the_dashboard_totals_include_a_stopped_instance_storage() -> None:
    stopped = instance(InstanceState.STOPPED, storage=0.12, started=NOW - timedelta(days=1))
    assert fleet.burn_rate([stopped]) == pytest.approx(0.12)
    assert fleet.spent_since([stopped], MIDNIGHT, NOW) == pytest.approx(0.12 * 12)
