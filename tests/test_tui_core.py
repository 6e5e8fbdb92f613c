"""The dashboard's core: one poll per kind, honest state when a platform fails, a start-up
and a quit that no timing can break, and every action in the palette."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from demo_helpers import rent
from textual.command import CommandPalette
from tui_helpers import notifications, running_app, wait_for

from vp_tui.bootstrap import Context, build_context
from vp_tui.core.models import Instance, InstanceState
from vp_tui.sim.server import DemoCloud
from vp_tui.tui.app import VpApp
from vp_tui.tui.commands import NAVIGATION_KEYS, binding_sections
from vp_tui.tui.messages import AccountsLoaded, EngineReady, FleetLoaded, LogChunk
from vp_tui.tui.screens.destroy import DestroyScreen
from vp_tui.tui.screens.quit import QuitScreen
from vp_tui.tui.widgets.instances_table import InstancesTable
from vp_tui.tui.widgets.platforms_pane import PlatformsPane


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))


def _workers_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vp-worker")]


async def test_refresh_key_fetches_now_and_never_starts_another_loop(tmp_path: Path) -> None:
    async with running_app(tmp_path, refresh_seconds=1, fleet_seconds=1, accounts_seconds=1) as (
        app,
        pilot,
        cloud,
    ):
        await wait_for(pilot, lambda: app.offers_loaded.is_set() and app.fleet_loaded.is_set())
        await pilot.pause(0.5)
        scheduler = app.scheduler
        before = {kind: scheduler.started(kind) for kind in scheduler.kinds}
        cloud.reset_request_counts()
        await pilot.pause(3.0)
        quiet = cloud.request_count()
        await pilot.press("R", "R", "R", "R", "R")
        for kind in scheduler.kinds:
            # each kind has one fetch in flight or one timer armed, never more
            assert scheduler.started(kind) > before[kind]
        await pilot.pause(0.5)
        cloud.reset_request_counts()
        await pilot.pause(3.0)
        after = cloud.request_count()
        # Five presses of R used to add five polling loops (4-5 times the requests).
        assert after <= quiet * 1.5 + 4, (quiet, after)
        for kind in scheduler.kinds:
            assert not (scheduler.armed(kind) and scheduler.in_flight(kind))


async def test_a_failing_listing_keeps_billing_rows_and_says_unknown(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, cloud):
        rent(app.engine, "runpod", "RTX A4000")
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the pod listed")
        await wait_for(pilot, lambda: "unknown" not in str(app.query_one("#burn-rate").render()))
        burn = str(app.query_one("#burn-rate").render())
        assert burn.startswith("burn $0.") and burn != "burn $0.000/h"
        cloud.set_faults("runpod:error=503")
        key = next(iter(table.instances))

        def stale() -> bool:
            return "stale" in str(table.get_cell(key, "state"))

        await wait_for(pilot, stale, what="the row marked stale")
        assert table.row_count == 1  # still there: a failed listing is not an absence
        assert str(app.query_one("#burn-rate").render()).endswith("+ runpod unknown")
        assert "runpod unknown" in str(app.query_one("#running-count").render())
        assert "runpod stale" in (app.query_one("#instances-pane").border_subtitle or "")
        pane = app.query_one("#platforms", PlatformsPane)
        assert pane.views["runpod"].running is None
        assert "? running" in pane.render().plain
        assert any("503" in n for n in notifications(app))
        cloud.set_faults("")
        await wait_for(pilot, lambda: not stale(), what="fresh again")
        assert "unknown" not in str(app.query_one("#burn-rate").render())


async def test_a_platform_failing_at_start_is_unknown_not_zero(tmp_path: Path) -> None:
    async with running_app(tmp_path, faults="runpod:error=500") as (app, pilot, _):
        await wait_for(pilot, app.fleet_loaded.is_set)
        assert str(app.query_one("#burn-rate").render()) == "burn $0.000/h + runpod unknown"
        assert str(app.query_one("#running-count").render()) == "0 running + runpod unknown"


async def test_quit_while_a_launch_boots_returns_and_resumes_next_time(tmp_path: Path) -> None:
    with DemoCloud(tmp_path / "data" / "demo", boot_seconds=600, faults="") as cloud:
        context = build_context(demo_cloud=cloud)
        project = tmp_path / "project"
        project.mkdir()
        app = VpApp(context, project=project, refresh_seconds=2, fleet_seconds=1)
        try:
            async with app.run_test(size=(140, 40)) as pilot:
                await wait_for(pilot, app.offers_loaded.is_set)
                await pilot.press("slash", *"vast 3090 x1", "enter", "enter", "ctrl+s")
                store = context.job_service.store
                await wait_for(pilot, lambda: bool(store.pending_launches()), what="launch")
                assert any(w.group == "create" for w in app.workers)
                await wait_for(pilot, lambda: bool(app.state.fleet.instances), what="listed")
                await pilot.press("q")  # the booting instance bills: the quit dialog asks
                assert isinstance(app.screen, QuitScreen)
                await pilot.press("q")  # q again: quit, leaving it booting
        finally:
            context.close()
        assert app.return_code == 0
        # Every worker noticed the quit (none is left polling the booting instance).
        deadline = time.monotonic() + 10
        while _workers_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not _workers_alive()
        pending = store.pending_launches()
        assert len(pending) == 1 and len(cloud.cloud.instances()) == 1

        cloud.cloud.boot_seconds = 0.0  # the machine finishes booting while vp-tui is closed
        again = build_context(demo_cloud=cloud)
        second = VpApp(again, project=project, refresh_seconds=2, fleet_seconds=1)
        try:
            async with second.run_test(size=(140, 40)) as pilot:
                await wait_for(
                    pilot, lambda: any("Launch resumed" in n for n in notifications(second))
                )
                table = second.query_one("#instances", InstancesTable)
                assert pending[0].key in table.instances
                await wait_for(
                    pilot, lambda: any("Instance ready" in n for n in notifications(second))
                )
                assert again.job_service.store.pending_launches() == []
                await pilot.press("q")
        finally:
            again.close()


class _SlowStartApp(VpApp):
    """The real start-up (engine loaded in a worker), with a slow first frame, that checks
    the engine is never handed out before every pane is mounted."""

    engine_without_panes: list[str]

    @property
    def context(self) -> Context | None:
        return self.__dict__.get("_test_engine")

    @context.setter
    def context(self, value: Context | None) -> None:
        if value is not None:
            missing = [
                s for s in ("#platforms", "#offers", "#instances", "#job-log") if not self.query(s)
            ]
            self.__dict__.setdefault("engine_without_panes", []).extend(missing)
        self.__dict__["_test_engine"] = value

    async def on_engine_ready(self, message: EngineReady) -> None:
        # A slow first frame: ticks and answers arrive meanwhile. (Textual then runs the
        # app's own handler of the message, as it does for each class that has one.)
        await asyncio.sleep(1.5)


async def test_start_up_under_a_slow_first_frame_touches_no_missing_pane(tmp_path: Path) -> None:
    app = _SlowStartApp(demo=True, project=tmp_path, refresh_seconds=2, fleet_seconds=1)
    instance = Instance(platform="vast", instance_id="1", state=InstanceState.RUNNING)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            # Answers and timers that come before the panes exist find nothing and do nothing.
            app.post_message(FleetLoaded([instance], {}))
            app.post_message(AccountsLoaded({}, {"vast": "HTTP 503"}))
            app.post_message(LogChunk("job", 0, "text"))
            app.tick()
            app.show_fleet()
            app.refresh_status()
            await pilot.press("3", "r", "d", "u", "R", "x")
            await wait_for(pilot, lambda: app.context is not None, what="engine")
            await wait_for(pilot, app.offers_loaded.is_set)
            assert not any("went wrong" in n for n in notifications(app))
            assert app.__dict__.get("engine_without_panes", []) == []
            await pilot.press("q")
    finally:
        app.close_engine()
    assert app.return_code == 0


async def test_palette_offers_every_pane_action_from_the_bindings(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for section in binding_sections(app):
            if not section.in_palette:
                continue
            for binding in section.bindings:
                assert not isinstance(binding, tuple)
                if set(binding.key.split(",")) <= NAVIGATION_KEYS:
                    continue
                place = section.title.removesuffix(" pane")
                assert f"{place}: {binding.description}" in titles, binding
        rent(app.engine, "vast", "RTX 3090")
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Instances: Destroy")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DestroyScreen), what="confirm")
        await pilot.press("n")
        assert table.row_count == 1
        assert next(iter(table.instances.values())).state is InstanceState.RUNNING


async def test_unreadable_rows_are_counted_in_the_platforms_pane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vp_tui.sim.vast_api import VastAPI

    search = VastAPI._search

    def with_garbage(self: VastAPI, query: dict[str, object]) -> list[dict[str, object]]:
        rows = search(self, query)
        return [*rows, {"id": "x", "gpu_name": None, "num_gpus": "many"}, {"dph_total": -1}]

    monkeypatch.setattr(VastAPI, "_search", with_garbage)
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        pane = app.query_one("#platforms", PlatformsPane)
        await wait_for(pilot, lambda: pane.views["vast"].skipped > 0, what="skipped rows")
        assert "rows unreadable" in pane.render().plain
        assert pane.views["runpod"].skipped == 0


async def test_a_pull_that_meets_a_local_folder_keeps_it_and_says_so(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "results").mkdir()
    (project / "results" / "mine.txt").write_text("local work")
    async with running_app(tmp_path, project=project) as (app, pilot, _):
        instance = rent(app.engine, "vast", "RTX 3090")
        remote = app.engine.job_service.remote(instance)
        workdir = app.engine.settings.sync.remote_dir
        remote.run(f"mkdir -p {workdir} && echo theirs > {workdir}/results")
        table = app.query_one("#instances", InstancesTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("3", "p")
        await wait_for(pilot, lambda: any("local files kept" in n for n in notifications(app)))
        assert any("results" in n for n in notifications(app) if "kept" in n)
        assert (project / "results" / "mine.txt").read_text() == "local work"
