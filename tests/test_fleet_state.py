"""The instances as last known: a failed listing keeps the rows, and totals say what is unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vp_tui.core.fleet_state import FleetState, hourly_rate
from vp_tui.core.models import Instance, InstanceState, PlatformStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _pod(state: InstanceState = InstanceState.RUNNING, price: float = 0.34) -> Instance:
    return Instance(
        platform="runpod",
        instance_id="pod1",
        state=state,
        price_per_hour=price,
        storage_price_per_hour=0.01,
    )


def _box() -> Instance:
    return Instance(
        platform="vast", instance_id="42", state=InstanceState.RUNNING, price_per_hour=0.5
    )


def _ok(name: str) -> PlatformStatus:
    return PlatformStatus(platform=name, ok=True)  # type: ignore[arg-type]


def _failed(name: str, error: str = "HTTP 503") -> PlatformStatus:
    return PlatformStatus(platform=name, ok=False, error=error)  # type: ignore[arg-type]


def test_nothing_listed_yet_is_unknown_not_zero() -> None:
    state = FleetState.empty(["vast", "runpod"])
    burn = state.burn()
    assert burn.per_hour == 0 and burn.unknown == ("vast", "runpod") and not burn.complete
    assert state.running() is None


def test_a_failed_listing_keeps_the_last_rows_marked_stale() -> None:
    state = FleetState.empty(["vast", "runpod"]).updated(
        [_box(), _pod()], {"vast": _ok("vast"), "runpod": _ok("runpod")}, NOW
    )
    assert state.burn().per_hour == pytest.approx(0.84) and state.burn().complete
    later = NOW + timedelta(seconds=30)
    failed = state.updated([_box()], {"vast": _ok("vast"), "runpod": _failed("runpod")}, later)
    assert [i.key for i in failed.instances] == ["vast:42", "runpod:pod1"]
    assert failed.stale_since("runpod") == NOW
    assert failed.error("runpod") == "HTTP 503"
    assert failed.stale_since("vast") is None
    burn = failed.burn()
    assert burn.per_hour == 0.5 and burn.unknown == ("runpod",)
    assert failed.running("runpod") is None and failed.running("vast") == 1
    assert failed.running() is None and failed.running_known() == 1
    recovered = failed.updated([_box()], {"vast": _ok("vast"), "runpod": _ok("runpod")}, later)
    assert [i.key for i in recovered.instances] == ["vast:42"]
    assert recovered.burn().complete


def test_failing_from_the_start_shows_nothing_but_says_unknown() -> None:
    state = FleetState.empty(["vast", "runpod"]).updated(
        [_box()], {"vast": _ok("vast"), "runpod": _failed("runpod")}, NOW
    )
    assert [i.key for i in state.instances] == ["vast:42"]
    assert state.stale_since("runpod") is None  # nothing to be stale: never listed
    assert state.burn().unknown == ("runpod",)


def test_a_platform_left_out_of_a_listing_keeps_its_state() -> None:
    state = FleetState.empty(["vast", "runpod"]).updated(
        [_box(), _pod()], {"vast": _ok("vast"), "runpod": _ok("runpod")}, NOW
    )
    only_vast = state.updated([], {"vast": _ok("vast")}, NOW)
    assert [i.key for i in only_vast.instances] == ["runpod:pod1"]


def test_progress_and_verified_destroy_change_one_row() -> None:
    state = FleetState.empty(["runpod"]).updated([], {"runpod": _ok("runpod")}, NOW)
    booting = state.with_instance(_pod(InstanceState.STARTING))
    assert booting.find("runpod:pod1") is not None
    assert booting.with_instance(_pod()).find("runpod:pod1").state is InstanceState.RUNNING  # type: ignore[union-attr]
    assert booting.without("runpod:pod1").instances == []


def test_hourly_rate_is_compute_while_up_and_storage_while_stopped() -> None:
    assert hourly_rate(_pod()) == 0.34
    assert hourly_rate(_pod(InstanceState.STOPPED)) == 0.01
    assert hourly_rate(_pod(InstanceState.TERMINATED)) == 0.0
