"""The run dialog: command history, environment variables, the target instance, its footer."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from demo_helpers import rent
from textual.pilot import Pilot
from textual.widgets import Footer, Input, Select, Static
from tui_helpers import running_app, wait_for

from vp_tui.core.models import Instance, InstanceState, JobState
from vp_tui.tui.app import VpApp
from vp_tui.tui.screens.confirm import ConfirmScreen
from vp_tui.tui.screens.run import EnvError, RunScreen, parse_env
from vp_tui.tui.widgets.instances_table import InstancesTable
from vp_tui.tui.widgets.log_view import JobLog
from vp_tui.tui.widgets.tick_box import TickBox


async def _instances(app: VpApp, pilot: Pilot[None], *gpus: str) -> list[Instance]:
    """Rent one instance of each of ``gpus`` and wait until the dashboard shows them running."""
    rented = [await asyncio.to_thread(rent, app.engine, "vast", gpu) for gpu in gpus]
    table = app.query_one("#instances", InstancesTable)

    def shown() -> bool:
        rows = [table.instances.get(i.key) for i in rented]
        return all(r is not None and r.state is InstanceState.RUNNING for r in rows)

    await wait_for(pilot, shown, what="the instances in the table")
    return rented


def test_environment_reads_shell_words() -> None:
    assert parse_env("") == {}
    assert parse_env("A=1 MSG='hello world' EMPTY= X=a=b") == {
        "A": "1",
        "MSG": "hello world",
        "EMPTY": "",
        "X": "a=b",
    }
    for bad, says in (
        ("1X=2", "not a variable name"),
        ("A-B=2", "not a variable name"),
        ("TOKEN", "has no value"),
        ("A='open", "quotation"),
    ):
        with pytest.raises(EnvError, match=says):
            parse_env(bad)


async def test_env_reaches_the_command_on_the_chosen_instance(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vp_tui")
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        first, second = await _instances(app, pilot, "RTX 4090", "RTX 3090")
        table = app.query_one("#instances", InstancesTable)
        await pilot.press("3", "g")
        highlighted = table.current
        assert highlighted is not None
        other = second if highlighted.key == first.key else first

        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.query(Footer)  # the footer follows the open dialog
        assert len(screen.query(TickBox)) == 2
        target = screen.query_one("#target", Select)
        assert target.value == highlighted.key  # the highlighted instance first

        # A bad name is said in the dialog and nothing starts.
        await pilot.press(*'echo "[$FOO/$BAR]"; sleep 60')
        screen.query_one("#env", Input).focus()
        await pilot.press(*"1X=2", "enter")
        assert app.screen is screen
        error = str(screen.query_one("#dialog-error", Static).render())
        assert "'1X' is not a variable name" in error
        assert app.engine.job_service.history() == []

        # Another running instance, without leaving the dialog.
        screen.query_one("#env", Input).value = ""
        await pilot.press(*"FOO='hello world' BAR=$HOME")
        target.focus()
        await pilot.press("enter")  # opens the list
        await pilot.press("down", "enter")  # the list is in the table's order
        assert target.value == other.key
        screen.query_one("#command", Input).focus()
        await pilot.press("enter")

        log = app.query_one("#job-log", JobLog)
        await wait_for(pilot, lambda: "[hello world/$HOME]" in log.lines, what="the env values")
        job = app.engine.job_service.history()[0]
        assert (job.platform, job.instance_id) == (other.platform, other.instance_id)
        assert f"{other.name} on {other.platform}" in str(log.border_title)
        await wait_for(pilot, lambda: table.job_keys == {other.key}, what="the job mark")

        await pilot.press("4", "c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(
            pilot, lambda: app.engine.job_service.get(job.job_id).state is JobState.CANCELED
        )
        await wait_for(pilot, lambda: table.job_keys == set(), what="the job mark gone")
    # Names may be logged, values never (they may be secrets).
    assert "BAR, FOO" in caplog.text
    assert "hello world" not in caplog.text


async def test_command_history_walks_back_and_survives_a_restart(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        await _instances(app, pilot, "RTX 4090")
        log = app.query_one("#job-log", JobLog)
        for word in ("one", "two"):
            await pilot.press("3", "r", *f"echo {word}", "enter")
            await wait_for(pilot, lambda: word in log.lines, what=f"{word} in the log")  # noqa: B023
    # A new dashboard on the same data directory remembers them, newest first.
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.fleet_loaded.is_set)
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: table.current is not None, what="the instance again")
        await wait_for(
            pilot,
            lambda: table.current is not None and table.current.state is InstanceState.RUNNING,
        )
        await pilot.press("3", "r")
        assert isinstance(app.screen, RunScreen)
        command = app.screen.query_one("#command", Input)
        await pilot.press(*"ec", "up")
        assert command.value == "echo two"
        await pilot.press("up")
        assert command.value == "echo one"
        await pilot.press("up")  # nothing older: stays
        assert command.value == "echo one"
        await pilot.press("down")
        assert command.value == "echo two"
        await pilot.press("down")  # past the newest: what was typed
        assert command.value == "ec"
        await pilot.press("escape")
        assert not isinstance(app.screen, RunScreen)
