"""The dashboard, key by key, on the demo cloud through the real SDKs and real SSH."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, Tabs
from tui_helpers import notifications, running_app, wait_for

from vp_tui.core.models import InstanceState, JobState
from vp_tui.tui.screens.confirm import ConfirmScreen
from vp_tui.tui.screens.create import CreateScreen
from vp_tui.tui.screens.destroy import DestroyScreen
from vp_tui.tui.screens.help import HelpScreen
from vp_tui.tui.screens.jobs import JobsScreen
from vp_tui.tui.screens.run import RunScreen
from vp_tui.tui.widgets.instances_table import InstancesTable
from vp_tui.tui.widgets.log_view import JobLog
from vp_tui.tui.widgets.offers_table import OffersTable
from vp_tui.tui.widgets.platforms_pane import PlatformsPane


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))


async def test_paints_then_fills_both_markets(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        assert app.query_one("#mode-badge").render().plain == "DEMO"  # type: ignore[attr-defined]
        await wait_for(pilot, app.offers_loaded.is_set, what="offers")
        table = app.query_one("#offers", OffersTable)
        assert table.total_count > 2000
        assert {o.platform for o in table.offers} == {"vast", "runpod"}
        pane = app.query_one("#platforms", PlatformsPane)
        assert all(v.status is not None and v.status.ok for v in pane.views.values())
        assert app.focused is table


async def test_global_keys(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        for key, widget_id in (
            ("1", "platforms"),
            ("3", "instances"),
            ("4", "job-log"),
            ("2", "offers"),
        ):
            await pilot.press(key)
            assert app.focused is not None and app.focused.id == widget_id
        await pilot.press("tab")
        assert app.focused.id == "instances"  # type: ignore[union-attr]
        await pilot.press("shift+tab", "shift+tab")
        assert app.focused.id == "platforms"  # type: ignore[union-attr]
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("R")
        assert any("Refreshing" in n for n in notifications(app))
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"destroy")
        await pilot.pause(0.3)
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code == 0


async def test_offer_keys_filter_sort_group_create(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        table = app.query_one("#offers", OffersTable)
        total = table.visible_count
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"4090 <0.5")
        await wait_for(pilot, lambda: table.visible_count < total)
        assert all(o.gpu == "RTX 4090" and o.price_per_hour < 0.5 for o in table.visible_offers())
        await pilot.press("enter")
        assert app.focused is table
        first = table.cursor_offer
        await pilot.press("s")
        assert table.sort_key == "value"
        while table.sort_key != "per_gpu":
            await pilot.press("s")
        assert table.cursor_offer == first
        await pilot.press("v")
        assert table.grouped
        await pilot.press("v")
        assert not table.grouped
        await pilot.press("down", "enter")
        assert isinstance(app.screen, CreateScreen)
        await pilot.press("escape")
        await pilot.press("c")
        assert isinstance(app.screen, CreateScreen)
        await pilot.press("escape")
        assert app.focused is table


async def test_platform_toggle_leaves_it_out_of_the_comparison(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        table = app.query_one("#offers", OffersTable)
        await pilot.press("1", "down", "space")
        await wait_for(pilot, lambda: {o.platform for o in table.offers} == {"vast"})
        await pilot.press("up", "space")  # the last one stays in
        assert any("At least one platform" in n for n in notifications(app))
        await pilot.press("down", "space")
        await wait_for(pilot, lambda: {o.platform for o in table.offers} == {"vast", "runpod"})


async def test_full_loop_create_run_pull_stop_destroy(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "hello.py").write_text("open('out.txt','w').write('done')\nprint(6*7)\n")
    async with running_app(tmp_path, project=project) as (app, pilot, cloud):
        await wait_for(pilot, app.offers_loaded.is_set)
        await pilot.press("slash", *"runpod a4000", "enter", "enter")
        assert isinstance(app.screen, CreateScreen)
        await pilot.press("ctrl+s")  # launch
        instances = app.query_one("#instances", InstancesTable)

        def running() -> bool:
            return any(i.state is InstanceState.RUNNING for i in instances.instances.values())

        await wait_for(pilot, running, what="instance running")
        await wait_for(pilot, lambda: any("Instance ready" in n for n in notifications(app)))
        await pilot.press("3", "r")
        assert isinstance(app.screen, RunScreen)
        await pilot.press(*"python3 hello.py", "enter")
        log = app.query_one("#job-log", JobLog)
        await wait_for(pilot, lambda: "42" in log.lines, what="job output")
        assert app.focused is log or log.has_focus_within
        await wait_for(pilot, lambda: any("Job succeeded" in n for n in notifications(app)))
        assert (project / "out.txt").read_text() == "done"  # pulled after the run
        jobs = app.engine.job_service.history()
        assert jobs[0].state is JobState.SUCCEEDED and jobs[0].exit_code == 0

        (project / "new.txt").write_text("x")
        await pilot.press("3", "u")
        await wait_for(pilot, lambda: any("Push" in n and "done" in n for n in notifications(app)))
        await pilot.press("p")
        await wait_for(pilot, lambda: any("Pull" in n and "done" in n for n in notifications(app)))

        await pilot.press("l")
        assert isinstance(app.screen, JobsScreen)
        await pilot.press("enter")
        assert app.focused is log and "42" in log.lines

        await pilot.press("3", "x")
        await wait_for(
            pilot,
            lambda: any(i.state is InstanceState.STOPPED for i in instances.instances.values()),
            what="stopped",
        )
        await pilot.press("x")
        await wait_for(pilot, running, what="running again")

        await pilot.press("d")
        assert isinstance(app.screen, DestroyScreen)
        await pilot.press("n")
        assert instances.row_count == 1
        await pilot.press("d", "y")
        await wait_for(pilot, lambda: instances.row_count == 0, what="row gone")
        assert any("gone (verified)" in n for n in notifications(app))
        assert cloud.cloud.instances() == []


async def test_unverified_destroy_stays_red(tmp_path: Path) -> None:
    async with running_app(tmp_path, destroy_timeout=1.5) as (app, pilot, cloud):
        await wait_for(pilot, app.offers_loaded.is_set)
        await pilot.press("slash", *"vast 3090 x1", "enter", "enter", "ctrl+s")
        instances = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: instances.row_count == 1)
        cloud.set_faults("vast:nodestroy")
        await pilot.press("3", "d", "y")
        await wait_for(pilot, lambda: any("NOT verified" in n for n in notifications(app)))
        instance = instances.current
        assert instance is not None
        override = instances.overrides[instance.key]
        assert override.state is InstanceState.ERROR
        assert "destroy unverified" in str(instances.get_cell(instance.key, "state"))
        assert len(cloud.cloud.instances()) == 1


async def test_platform_500_marks_error_and_keeps_the_other(tmp_path: Path) -> None:
    async with running_app(tmp_path, faults="runpod:error=500") as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        table = app.query_one("#offers", OffersTable)
        assert {o.platform for o in table.offers} == {"vast"}, notifications(app)
        pane = app.query_one("#platforms", PlatformsPane)
        status = pane.views["runpod"].status
        assert status is not None and not status.ok and "500" in (status.error or "")
        assert any("Platform problem" in n and "500" in n for n in notifications(app))
        assert "error" in pane.render().plain


async def test_auth_error_is_a_message_not_a_crash(tmp_path: Path) -> None:
    async with running_app(tmp_path, faults="*:auth") as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        texts = notifications(app)
        assert any("API key rejected" in n for n in texts)
        assert not any("Traceback" in n or "demo-vast-0" in n for n in texts)
        await pilot.press("2", "3")
        assert app.focused is not None and app.focused.id == "instances"


async def test_keys_stay_responsive_with_slow_apis(tmp_path: Path) -> None:
    # Long enough that a loaded machine still presses every key before the answers land.
    async with running_app(tmp_path, faults="*:latency=5000") as (app, pilot, _):
        # The first fetches are still in flight: the keys work anyway.
        await pilot.press("3")
        assert app.focused is not None and app.focused.id == "instances"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "2", "slash", *"h100")
        assert isinstance(app.focused, Input) and app.focused.value == "h100"
        assert not app.offers_loaded.is_set()
        await wait_for(pilot, app.offers_loaded.is_set, timeout=30)


async def test_resize_to_tabs_and_back(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=(80, 24)) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        assert app.screen.has_class("-narrow")
        tabs = app.query_one("#pane-tabs", Tabs)
        assert tabs.display
        await pilot.press("3")
        assert app.query_one("#instances-pane").has_class("-active")
        assert not app.query_one("#offers-pane").has_class("-active")
        assert tabs.active == "tab-instances"
        await pilot.resize_terminal(120, 36)
        await pilot.pause(0.2)
        assert not app.screen.has_class("-narrow")
        await pilot.resize_terminal(100, 30)
        await pilot.pause(0.2)
        assert not app.screen.has_class("-narrow")


async def test_log_keys_and_cancel(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        await pilot.press("slash", *"runpod a5000", "enter", "enter", "ctrl+s")
        instances = app.query_one("#instances", InstancesTable)
        await wait_for(
            pilot,
            lambda: any(i.state is InstanceState.RUNNING for i in instances.instances.values()),
        )
        await wait_for(pilot, lambda: any("Instance ready" in n for n in notifications(app)))
        await pilot.press("3", "r", *"for i in $(seq 1 500); do echo line $i; done; sleep 60")
        await pilot.press("enter")
        log = app.query_one("#job-log", JobLog)
        await wait_for(pilot, lambda: "line 500" in log.lines, what="output")
        await pilot.press("4", "f")
        assert not log.following
        await pilot.press("end")
        assert log.following
        await pilot.press("w")
        assert log.wrap
        await pilot.press("w", "slash", *"line 12", "enter")
        assert log.match_count >= 11  # line 12, 120..129
        first = log.current_match
        await pilot.press("n")
        assert log.current_match != first
        await pilot.press("N")
        assert log.current_match == first
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        job = app.engine.job_service.history()[0]
        await wait_for(
            pilot,
            lambda: app.engine.job_service.get(job.job_id).state is JobState.CANCELED,
            what="canceled",
        )


async def test_shell_in_a_headless_run_explains_itself(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        await pilot.press("slash", *"vast 3090 x1", "enter", "enter", "ctrl+s")
        instances = app.query_one("#instances", InstancesTable)
        await wait_for(
            pilot,
            lambda: any(i.state is InstanceState.RUNNING for i in instances.instances.values()),
        )
        await pilot.press("3", "S")
        await wait_for(pilot, lambda: any("Shell" in n for n in notifications(app)))


async def test_jobs_started_elsewhere_reattach_on_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from demo_helpers import rent

    from vp_tui.bootstrap import build_context
    from vp_tui.services.jobs import RunOptions
    from vp_tui.sim.server import DemoCloud

    with DemoCloud(tmp_path / "data" / "demo", boot_seconds=0.3, faults="") as cloud:
        context = build_context(demo_cloud=cloud)
        instance = rent(context)
        job = context.job_service.start(
            instance,
            "for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done",
            RunOptions(project=tmp_path, sync_up=False),
        )
        context.close()
        from vp_tui.tui.app import VpApp

        other = build_context(demo_cloud=cloud)
        app = VpApp(other, project=tmp_path)
        try:
            async with app.run_test(size=(140, 40)) as pilot:
                log = app.query_one("#job-log", JobLog)
                await wait_for(pilot, lambda: "tick 5" in log.lines, what="re-attached output")
                await wait_for(
                    pilot,
                    lambda: other.job_service.get(job.job_id).state is JobState.SUCCEEDED,
                )
        finally:
            other.close()
    assert json.dumps(log.lines[:5]) == json.dumps([f"tick {i}" for i in range(1, 6)])
