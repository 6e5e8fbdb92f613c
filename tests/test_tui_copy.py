"""Copy to the clipboard: `y`/`Y` in the instances pane, `y` in the log pane and the jobs list."""

from __future__ import annotations

import asyncio
from pathlib import Path

from demo_helpers import rent
from tui_helpers import notifications, running_app, wait_for

from vp_tui.core.models import InstanceState
from vp_tui.tui.screens.jobs import JobsScreen
from vp_tui.tui.widgets.instances_table import InstancesTable
from vp_tui.tui.widgets.log_view import JobLog


async def test_nothing_to_copy_says_so(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        await wait_for(pilot, app.fleet_loaded.is_set)
        app.copy_to_clipboard("before")
        await pilot.press("3", "y")
        await wait_for(pilot, lambda: any("No instance selected" in n for n in notifications(app)))
        await pilot.press("Y", "4", "y")
        await wait_for(
            pilot, lambda: any("No job in the log pane to copy" in n for n in notifications(app))
        )
        assert app.clipboard == "before"


async def test_copy_ssh_instance_id_and_job_ids(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        instance = await asyncio.to_thread(rent, app.engine)
        assert instance.ssh is not None
        table = app.query_one("#instances", InstancesTable)

        def running() -> bool:
            row = table.instances.get(instance.key)
            return row is not None and row.state is InstanceState.RUNNING

        await wait_for(pilot, running, what="the instance in the table")

        await pilot.press("3", "y")
        copied = app.clipboard
        # The command `S` runs: vp-tui's key, the instance's port, user and address.
        assert copied.startswith("ssh ")
        assert f"-p {instance.ssh.port}" in copied and f"-l {instance.ssh.user}" in copied
        assert copied.split()[-1] == instance.ssh.host
        assert any(f"Copied the SSH command of {instance.name}" in n for n in notifications(app))

        await pilot.press("Y")
        assert app.clipboard == instance.instance_id
        assert any(
            f"Copied the instance id {instance.instance_id}" in n for n in notifications(app)
        )

        await pilot.press("r", *"echo first", "enter")
        log = app.query_one("#job-log", JobLog)
        await wait_for(pilot, lambda: "first" in log.lines, what="the first job's output")
        first = app.engine.job_service.history()[0]
        await pilot.press("3", "r", *"echo second", "enter")
        await wait_for(pilot, lambda: "second" in log.lines, what="the second job's output")
        second = app.engine.job_service.history()[0]
        assert second.job_id != first.job_id

        await pilot.press("4", "y")
        assert app.clipboard == second.job_id
        assert any(f"Copied the job id {second.job_id}" in n for n in notifications(app))

        # The jobs list, newest first: j/k/g/G move, y copies the highlighted job's id.
        await pilot.press("3", "l")
        assert isinstance(app.screen, JobsScreen)
        jobs = app.screen.query_one("#jobs-table")
        await pilot.press("j")
        assert app.screen.highlighted() == first.job_id
        await pilot.press("y")
        assert app.clipboard == first.job_id
        await pilot.press("k")
        assert app.screen.highlighted() == second.job_id
        await pilot.press("G")
        assert app.screen.highlighted() == first.job_id
        await pilot.press("g", "y")
        assert app.clipboard == second.job_id
        assert jobs.has_focus
        await pilot.press("escape")
        assert not isinstance(app.screen, JobsScreen)
