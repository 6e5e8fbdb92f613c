"""`q` with instances billing: the quit dialog lists them and leaves, stops or destroys them
(verified on the demo cloud) before quitting, or stays."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from demo_helpers import rent
from textual.widgets import Button, Static
from tui_helpers import notifications, running_app, wait_for

from vp_tui.core.costs import hourly_rate
from vp_tui.core.models import Instance, InstanceState
from vp_tui.core.money import format_price
from vp_tui.tui.app import VpApp
from vp_tui.tui.screens.quit import QuitScreen


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))


async def listed(app: VpApp) -> list[Instance]:
    """What the demo cloud lists now (asked off the UI thread)."""
    return (await asyncio.to_thread(app.engine.fleet.list)).instances


def dialog_text(app: VpApp) -> str:
    """Every line of the quit dialog."""
    return "\n".join(str(s.render()) for s in app.screen.query(Static) if s.id)


async def open_dialog(app: VpApp, pilot: object, count: int) -> QuitScreen:
    """Wait until ``count`` billing instances are listed, then press `q`."""
    await wait_for(
        pilot,  # type: ignore[arg-type]
        lambda: sum(hourly_rate(i) > 0 for i in app.state.fleet.instances) == count,
        what=f"{count} billing instances listed",
    )
    await pilot.press("q")  # type: ignore[attr-defined]
    assert isinstance(app.screen, QuitScreen)
    return app.screen


async def test_nothing_billing_quits_at_once(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.fleet_loaded.is_set)
        await pilot.press("q")
        assert not isinstance(app.screen, QuitScreen)
        assert app.stop_event.is_set()
    assert app.return_code == 0


async def test_dialog_lists_billing_instances_stay_escape_and_leave(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        vast = rent(app.engine, "vast")
        pod = rent(app.engine, "runpod", "RTX A4000")
        await asyncio.to_thread(app.engine.fleet.stop, vast.instance_id, "vast", poll_seconds=0.1)
        screen = await open_dialog(app, pilot, 2)
        text = dialog_text(app)
        billing = {i.instance_id: i for i in app.state.fleet.instances}
        assert billing[vast.instance_id].state is InstanceState.STOPPED  # its disk bills
        for instance in billing.values():
            assert instance.instance_id in text
            assert f"{format_price(hourly_rate(instance))}/h" in text
        total = sum(hourly_rate(i) for i in billing.values())
        assert f"Total burn: {format_price(total)}/h" in text
        labels = {str(b.label) for b in screen.query(Button)}
        assert labels == {
            "Quit, leave them running (q)",
            "Stop them and quit",
            "Destroy them and quit",
            "Stay (esc)",
        }

        await pilot.press("escape")
        assert not isinstance(app.screen, QuitScreen) and not app.stop_event.is_set()
        await pilot.press("q")
        await pilot.click("#stay")
        assert not isinstance(app.screen, QuitScreen) and not app.stop_event.is_set()

        await pilot.press("q")
        await pilot.click("#leave")
        assert app.stop_event.is_set()
        still = {i.instance_id: i.state for i in await listed(app)}
        assert still == {
            vast.instance_id: InstanceState.STOPPED,
            pod.instance_id: InstanceState.RUNNING,
        }


async def test_q_again_in_the_dialog_quits_leaving_them(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        vast = rent(app.engine, "vast")
        await open_dialog(app, pilot, 1)
        await pilot.press("q")
        assert app.stop_event.is_set()
        assert [i.instance_id for i in await listed(app)] == [vast.instance_id]


async def test_stop_them_and_quit_after_they_are_seen_stopped(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        vast = rent(app.engine, "vast")
        pod = rent(app.engine, "runpod", "RTX A4000")
        await open_dialog(app, pilot, 2)
        await pilot.click("#stop")
        await wait_for(pilot, app.stop_event.is_set, what="quit after the stops")
        states = {i.instance_id: i.state for i in await listed(app)}
        assert states == {
            vast.instance_id: InstanceState.STOPPED,
            pod.instance_id: InstanceState.STOPPED,
        }


async def test_destroy_them_and_quit_after_they_are_gone(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        rent(app.engine, "vast")
        rent(app.engine, "runpod", "RTX A4000")
        await open_dialog(app, pilot, 2)
        await pilot.click("#destroy")
        await wait_for(pilot, app.stop_event.is_set, what="quit after the destroys")
        assert await listed(app) == []


async def test_a_destroy_that_fails_stays_and_says_which(tmp_path: Path) -> None:
    async with running_app(tmp_path, destroy_timeout=1.0) as (app, pilot, cloud):
        vast = rent(app.engine, "vast")
        await open_dialog(app, pilot, 1)
        cloud.set_faults("vast:nodestroy")
        await pilot.click("#destroy")
        screen = app.screen
        assert "destroying…" in dialog_text(app)  # progress, while it is verified
        assert screen.query_one("#leave", Button).disabled  # one thing at a time
        error = screen.query_one("#dialog-error", Static)
        await wait_for(pilot, lambda: "Not quitting" in str(error.render()), what="the failure")
        assert isinstance(app.screen, QuitScreen) and not app.stop_event.is_set()
        assert vast.instance_id in str(error.render())
        assert "destroy FAILED" in dialog_text(app)
        # A notification is a message: it lands on the next turn of the loop.
        await wait_for(
            pilot,
            lambda: any("Destroy NOT verified" in n for n in notifications(app)),
            what="the notification",
        )
        assert not screen.query_one("#destroy", Button).disabled  # may be tried again
        assert [i.instance_id for i in await listed(app)] == [vast.instance_id]
        await pilot.press("escape")
        assert not isinstance(app.screen, QuitScreen) and not app.stop_event.is_set()


async def test_a_platform_that_did_not_answer_is_unknown_in_the_total(tmp_path: Path) -> None:
    async with running_app(tmp_path, faults="runpod:error=500") as (app, pilot, _):
        rent(app.engine, "vast")
        await open_dialog(app, pilot, 1)
        assert "+ runpod unknown" in dialog_text(app)
