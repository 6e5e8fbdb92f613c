"""Driving the dashboard in tests: an app on a fresh demo cloud, and waiting for things."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from textual.pilot import Pilot

from vp_tui.bootstrap import build_context
from vp_tui.config import Settings
from vp_tui.sim.server import DemoCloud
from vp_tui.tui.app import VpApp


@asynccontextmanager
async def running_app(
    tmp_path: Path,
    *,
    size: tuple[int, int] = (140, 40),
    faults: str = "",
    destroy_timeout: float = 20.0,
    project: Path | None = None,
    boot_seconds: float = 0.3,
    refresh_seconds: float = 2,
    fleet_seconds: float = 1,
    accounts_seconds: float | None = None,
    configure: Callable[[Settings], Settings] | None = None,
) -> AsyncIterator[tuple[VpApp, Pilot[None], DemoCloud]]:
    """The dashboard on its own demo cloud (fast boots), driven by a Pilot.

    ``configure`` changes the settings before the app starts (e.g. to set alerts).
    """
    with DemoCloud(tmp_path / "data" / "demo", boot_seconds=boot_seconds, faults=faults) as cloud:
        context = build_context(demo_cloud=cloud)
        if configure is not None:
            context.settings = configure(context.settings)
        if project is None:
            project = tmp_path / "project"
            project.mkdir(exist_ok=True)
        app = VpApp(
            context,
            project=project,
            refresh_seconds=refresh_seconds,
            fleet_seconds=fleet_seconds,
            accounts_seconds=accounts_seconds,
            destroy_timeout=destroy_timeout,
        )
        try:
            async with app.run_test(size=size) as pilot:
                yield app, pilot, cloud
        finally:
            context.close()


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], object], timeout: float = 30.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


def notifications(app: VpApp) -> list[str]:
    """Titles and texts of the notifications on screen."""
    return [f"{n.title}: {n.message}" for n in app._notifications]
