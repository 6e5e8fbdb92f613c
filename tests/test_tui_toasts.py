"""One toast per event: a cancel, a job lost, a destroy, and every push and pull worded alike."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from demo_helpers import rent
from textual.pilot import Pilot
from tui_helpers import running_app, wait_for

from vp_tui.core.models import Instance, InstanceState, Job, JobState
from vp_tui.core.sizes import describe_transfer, format_bytes, format_files
from vp_tui.tui.app import VpApp
from vp_tui.tui.screens.confirm import ConfirmScreen
from vp_tui.tui.screens.destroy import DestroyScreen
from vp_tui.tui.widgets.instances_table import InstancesTable
from vp_tui.tui.widgets.log_view import JobLog


class Toasts:
    """Every notification the app is asked to show, in order (the toasts on screen expire;
    this keeps them all, so a second toast for one event cannot hide)."""

    def __init__(self, app: VpApp) -> None:
        self.said: list[str] = []
        original = app.notify

        def record(message: str, **kwargs: object) -> None:
            self.said.append(f"{kwargs.get('title', '')}: {message}")
            original(message, **kwargs)  # type: ignore[arg-type]

        app.notify = record  # type: ignore[method-assign]

    def since(self, mark: int) -> list[str]:
        """What was said after ``mark`` (a length of ``said`` taken earlier)."""
        return self.said[mark:]


async def _instance(app: VpApp, pilot: Pilot[None], gpu: str = "RTX 4090") -> Instance:
    """Rent an instance on the demo cloud and wait until the dashboard shows it running."""
    instance = await asyncio.to_thread(rent, app.engine, "vast", gpu)
    table = app.query_one("#instances", InstancesTable)

    def shown() -> bool:
        row = table.instances.get(instance.key)
        return row is not None and row.state is InstanceState.RUNNING

    await wait_for(pilot, shown, what="the instance in the table")
    return instance


async def _run(app: VpApp, pilot: Pilot[None], command: str, shows: str) -> Job:
    """Run ``command`` from the run dialog on the highlighted instance; wait for ``shows``."""
    await pilot.press("3", "r", *command, "enter")
    log = app.query_one("#job-log", JobLog)
    await wait_for(pilot, lambda: shows in log.lines, what=f"{shows!r} in the log")
    return app.engine.job_service.history()[0]


async def _settled(app: VpApp, pilot: Pilot[None]) -> None:
    """Wait until no job, cancel, sync or destroy worker runs, and their messages are in."""
    groups = {"jobs", "cancel", "sync", "destroy"}
    await wait_for(
        pilot,
        lambda: all(w.is_finished for w in app.workers if w.group in groups),
        what="the job workers to finish",
    )
    await pilot.pause()
    await pilot.pause()


def test_sizes_read_as_people_say_them() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(999) == "999 B"
    assert format_bytes(1_234) == "1.2 kB"
    assert format_bytes(1_234_567) == "1.2 MB"
    assert format_bytes(999_999) == "1.0 MB"
    assert format_files(1) == "1 file" and format_files(3) == "3 files"
    assert describe_transfer("push", 3, 1_200_000, "12345") == "Pushed 3 files, 1.2 MB to 12345"
    assert describe_transfer("pull", 0, 0, "12345") == "Pulled 0 files (nothing changed) from 12345"


async def test_cancelling_a_job_toasts_once(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        toasts = Toasts(app)
        await wait_for(pilot, app.offers_loaded.is_set)
        instance = await _instance(app, pilot)
        job = await _run(app, pilot, "echo hi; sleep 60", shows="hi")
        await pilot.press("4", "c")
        assert isinstance(app.screen, ConfirmScreen)
        mark = len(toasts.said)
        await pilot.press("y")
        await wait_for(
            pilot, lambda: app.engine.job_service.get(job.job_id).state is JobState.CANCELED
        )
        await _settled(app, pilot)
        said = toasts.since(mark)
        assert len(said) == 1, said
        # The end and what the pull after it brought back, together.
        assert said[0].startswith("Job canceled: echo hi; sleep 60")
        assert f"Pulled 0 files (nothing changed) from {instance.name}" in said[0]


async def test_a_job_lost_with_its_instance_toasts_once(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        toasts = Toasts(app)
        await wait_for(pilot, app.offers_loaded.is_set)
        instance = await _instance(app, pilot)
        job = await _run(app, pilot, "echo up; sleep 60", shows="up")
        mark = len(toasts.said)
        # Gone without the dashboard's doing (another vp, the provider): the loss is news.
        await asyncio.to_thread(
            app.engine.fleet.destroy, instance.instance_id, instance.platform, timeout=20
        )
        await wait_for(pilot, lambda: app.engine.job_service.get(job.job_id).state is JobState.LOST)
        await _settled(app, pilot)
        said = toasts.since(mark)
        assert said == [f": Job {job.job_id} lost: the instance is gone"], said


async def test_destroying_an_instance_that_runs_a_job_toasts_once(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        toasts = Toasts(app)
        await wait_for(pilot, app.offers_loaded.is_set)
        instance = await _instance(app, pilot)
        job = await _run(app, pilot, "echo up; sleep 60", shows="up")
        await pilot.press("3", "d")
        assert isinstance(app.screen, DestroyScreen)
        mark = len(toasts.said)
        await pilot.press("y")
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: instance.key not in table.instances, what="row gone")
        await wait_for(pilot, lambda: app.engine.job_service.get(job.job_id).state is JobState.LOST)
        await _settled(app, pilot)
        said = toasts.since(mark)
        # The destroy is the event; the dialog named the job before it was confirmed.
        assert said == [f"Destroyed: {instance.key} is gone (verified)."], said


async def test_push_pull_and_a_jobs_own_sync_say_files_and_bytes_alike(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "data.txt").write_text("x" * 1500)
    async with running_app(tmp_path, project=project) as (app, pilot, _):
        toasts = Toasts(app)
        await wait_for(pilot, app.offers_loaded.is_set)
        instance = await _instance(app, pilot)
        name = instance.name

        await _run(app, pilot, "echo made > out.txt; echo ran", shows="ran")
        await wait_for(pilot, lambda: any(s.startswith("Job succeeded") for s in toasts.said))
        await _settled(app, pilot)
        started = [s for s in toasts.said if s.startswith("Job ") and " started: " in s]
        assert len(started) == 1, toasts.said
        assert started[0].endswith(f"Pushed 1 file, 1.5 kB to {name}"), started
        ended = [s for s in toasts.said if s.startswith("Job succeeded")]
        assert len(ended) == 1 and ended[0].endswith(f"Pulled 1 file, 5 B from {name}"), ended
        assert (project / "out.txt").read_text() == "made\n"

        (project / "more.txt").write_text("y" * 2_500_000)
        mark = len(toasts.said)
        await pilot.press("3", "u")
        await wait_for(pilot, lambda: any("Push done" in s for s in toasts.since(mark)))
        assert f"Push done: Pushed 1 file, 2.5 MB to {name}" in toasts.since(mark)

        mark = len(toasts.said)
        await pilot.press("p")
        await wait_for(pilot, lambda: any("Pull done" in s for s in toasts.since(mark)))
        assert f"Pull done: Pulled 0 files (nothing changed) from {name}" in toasts.since(mark)

        # One formatter: every sync line has the same shape.
        shape = re.compile(
            r"(Pushed|Pulled) \d+ files?(, [\d.]+ (B|kB|MB)| \(nothing changed\)) (to|from) "
        )
        lines = [line for s in toasts.said for line in s.split("\n") if "Pushed" in line]
        lines += [line for s in toasts.said for line in s.split("\n") if "Pulled" in line]
        assert len(lines) == 4
        assert all(shape.search(line) for line in lines), lines
