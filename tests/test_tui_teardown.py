"""Tearing down from the dashboard: the destroy dialog checks first (running jobs, files
not pulled yet, spend), each of its buttons, `enter` on the focused button, and marking
instances with `space` to destroy them together. On the demo cloud over real SSH."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_helpers import rent
from textual.widgets import Button, Static
from tui_helpers import notifications, running_app, wait_for

from vp_tui.core.models import Instance, JobState
from vp_tui.services.jobs import RunOptions
from vp_tui.tui.app import VpApp
from vp_tui.tui.screens.confirm import ConfirmScreen
from vp_tui.tui.screens.destroy import CHECKING, DestroyScreen
from vp_tui.tui.widgets.instances_table import InstancesTable


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))


def body(app: VpApp) -> str:
    """The destroy dialog's text."""
    return str(app.screen.query_one("#dialog-body", Static).render())


def checked(app: VpApp) -> bool:
    screen = app.screen
    return isinstance(screen, DestroyScreen) and not screen.still_checking()


async def on_instances(app: VpApp, pilot: object, count: int) -> InstancesTable:
    """The instances pane, focused, once ``count`` rows are shown."""
    table = app.query_one("#instances", InstancesTable)
    await wait_for(pilot, lambda: table.row_count == count, what=f"{count} rows")  # type: ignore[arg-type]
    await pilot.press("3")  # type: ignore[attr-defined]
    return table


def written_after_pull(app: VpApp, instance: Instance, project: Path) -> None:
    """Push the project, pull once, then write a file on the instance."""
    jobs = app.engine.job_service
    jobs.push(instance, project)
    jobs.pull(instance, project)
    remote = jobs.remote(instance)
    remote_dir = app.engine.settings.sync.remote_dir
    remote.run(f"mkdir -p {remote_dir}/out && echo fresh > {remote_dir}/out/result.txt", check=True)


async def test_dialog_lists_jobs_unpulled_files_and_spend(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('hi')\n")
    async with running_app(tmp_path, project=project) as (app, pilot, _):
        instance = rent(app.engine)
        written_after_pull(app, instance, project)
        job = app.engine.job_service.start(
            instance, "sleep 60", RunOptions(project=project, sync_up=False, pull=False)
        )
        await on_instances(app, pilot, 1)
        await pilot.press("d")
        assert isinstance(app.screen, DestroyScreen)
        assert CHECKING in body(app) or checked(app)
        await wait_for(pilot, lambda: checked(app), what="files checked")
        text = body(app)
        assert f"Running jobs: {job.job_id} (sleep 60)" in text
        assert "out/result.txt" in text and "train.py" not in text
        assert "spent so far $" in text and "/h now" in text
        labels = [str(b.label) for b in app.screen.query(Button)]
        assert labels == ["Pull, then destroy (p)", "Destroy (y)", "Keep it (n)"]
        await pilot.press("n")  # keep it
        assert not isinstance(app.screen, DestroyScreen)
        app.engine.job_service.cancel(app.engine.job_service.get(job.job_id))


async def test_nothing_unpulled_says_none_and_keep_it_keeps(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.txt").write_text("a")
    async with running_app(tmp_path, project=project) as (app, pilot, cloud):
        instance = rent(app.engine, "runpod", "RTX A4000")
        app.engine.job_service.push(instance, project)
        await on_instances(app, pilot, 1)
        await pilot.press("d")
        await wait_for(pilot, lambda: checked(app), what="files checked")
        assert "since the last pull: none" in body(app)
        assert app.focused is not None and app.focused.id == "keep"
        await pilot.click("#keep")
        assert not isinstance(app.screen, DestroyScreen)
        await pilot.pause(0.5)
        assert len(cloud.cloud.instances()) == 1


async def test_pull_then_destroy_brings_the_file_home_first(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('hi')\n")
    async with running_app(tmp_path, project=project) as (app, pilot, cloud):
        instance = rent(app.engine)
        written_after_pull(app, instance, project)
        table = await on_instances(app, pilot, 1)
        await pilot.press("d")
        await wait_for(pilot, lambda: checked(app), what="files checked")
        await pilot.press("p")
        await wait_for(pilot, lambda: table.row_count == 0, what="row gone")
        assert (project / "out" / "result.txt").read_text() == "fresh\n"
        assert any("gone (verified)" in n for n in notifications(app))
        assert cloud.cloud.instances() == []


async def test_a_failed_pull_keeps_the_instance(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    async with running_app(tmp_path, project=project) as (app, pilot, cloud):
        instance = rent(app.engine)
        written_after_pull(app, instance, project)
        await on_instances(app, pilot, 1)
        await pilot.press("d")
        await wait_for(pilot, lambda: checked(app), what="files checked")
        project.rename(tmp_path / "moved")  # the pull cannot write into the project
        (tmp_path / "project").write_text("not a directory")
        await pilot.press("p")
        await wait_for(pilot, lambda: any("instance kept" in n for n in notifications(app)))
        assert len(cloud.cloud.instances()) == 1


async def test_unreachable_check_says_so(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        instance = rent(app.engine)
        app.engine.fleet.stop(instance.instance_id, instance.platform)
        table = await on_instances(app, pilot, 1)
        await wait_for(pilot, lambda: table.current is not None and table.current.ssh is None)
        await pilot.press("d")
        assert "could not check:" in body(app)
        assert "since the last pull: none" not in body(app)
        labels = [str(b.label) for b in app.screen.query(Button)]
        assert "Pull, then destroy (p)" not in labels
        await pilot.press("escape")


async def test_enter_presses_the_focused_button(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, cloud):
        rent(app.engine)
        table = await on_instances(app, pilot, 1)
        await pilot.press("d", "enter")  # "Keep it" has the focus
        assert not isinstance(app.screen, DestroyScreen)
        await pilot.pause(0.3)
        assert table.row_count == 1
        await pilot.press("d")
        app.screen.query_one("#destroy", Button).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 0, what="row gone")
        assert cloud.cloud.instances() == []


async def test_confirm_enter_presses_the_focused_button(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        answers: list[bool | None] = []
        await pilot.pause()
        app.push_screen(ConfirmScreen("Sure?", "body"), answers.append)
        await pilot.pause()
        await pilot.press("enter")  # "Cancel" has the focus
        assert answers == [False]
        app.push_screen(ConfirmScreen("Sure?", "body"), answers.append)
        await pilot.pause()
        await pilot.press("shift+tab", "enter")
        assert answers == [False, True]
        app.push_screen(ConfirmScreen("Sure?", "body"), answers.append)
        await pilot.pause()
        await pilot.press("y")
        assert answers == [False, True, True]


async def test_space_marks_and_bulk_destroy_verifies_each(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, cloud):
        first = rent(app.engine)
        second = rent(app.engine, "runpod", "RTX A4000")
        third = rent(app.engine, "vast", "RTX 3090")
        table = await on_instances(app, pilot, 3)
        await pilot.press("space")
        assert len(table.marked) == 1
        await pilot.press("down", "space", "down", "space", "space")  # the last one unmarked
        assert len(table.marked) == 2
        marked = set(table.marked)
        assert all(str(table.get_cell(key, "name")).startswith("✓ ") for key in marked)
        await pilot.pause(2.5)  # a refresh or two: marks stay
        assert table.marked == marked
        await pilot.press("d")
        assert isinstance(app.screen, DestroyScreen)
        text = body(app)
        by_key = {i.key: i for i in (first, second, third)}
        for key in marked:
            assert by_key[key].instance_id in text
        (unmarked,) = {first.key, second.key, third.key} - marked
        assert by_key[unmarked].instance_id not in text
        assert text.count("spent so far $") == 2 and text.count("Running jobs: none") == 2
        assert "Destroy 2 (y)" in [str(b.label) for b in app.screen.query(Button)]
        await pilot.press("y")
        await wait_for(pilot, lambda: table.row_count == 1, what="two rows gone")
        await wait_for(pilot, lambda: any("2 destroyed" in n for n in notifications(app)))
        assert [i.id for i in cloud.cloud.instances()] == [by_key[unmarked].instance_id]
        assert table.marked == set()


async def test_bulk_destroy_says_which_failed(tmp_path: Path) -> None:
    async with running_app(tmp_path, destroy_timeout=1.5) as (app, pilot, cloud):
        rent(app.engine)
        rent(app.engine, "runpod", "RTX A4000")
        table = await on_instances(app, pilot, 2)
        await pilot.press("space", "down", "space")
        cloud.set_faults("vast:nodestroy")
        await pilot.press("d", "y")
        await wait_for(
            pilot, lambda: any("1 of 2 destroys NOT verified" in n for n in notifications(app))
        )
        texts = "\n".join(notifications(app))
        assert "gone (verified)" in texts and "NOT verified:" in texts
        assert table.row_count == 1
        assert "destroy unverified" in str(table.get_cell(table.current.key, "state"))  # type: ignore[union-attr]


async def test_job_state_is_read_for_the_dialog(tmp_path: Path) -> None:
    """A finished job is not listed as running."""
    project = tmp_path / "project"
    project.mkdir()
    async with running_app(tmp_path, project=project) as (app, pilot, _):
        instance = rent(app.engine)
        job = app.engine.job_service.start(
            instance, "true", RunOptions(project=project, sync_up=False, pull=False)
        )
        app.engine.job_service.follow(job)
        assert app.engine.job_service.get(job.job_id).state is JobState.SUCCEEDED
        await on_instances(app, pilot, 1)
        await pilot.press("d")
        assert "Running jobs: none" in body(app)
        await pilot.press("n")
