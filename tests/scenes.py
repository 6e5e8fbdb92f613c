"""The dashboard's main states, reproducible to the pixel: for screenshots and snapshot tests.

Run as a script (`make screenshots`) it writes an SVG of each scene.

Each scene is the app on a private demo cloud whose clock stands still, with the
same two instances and one finished job, and the keys that lead to the state.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from vp_tui.bootstrap import Context, frozen_demo_context
from vp_tui.core.models import Job, JobState, LaunchSpec, PlatformName
from vp_tui.platforms.base import OfferQuery
from vp_tui.tui.app import VpApp

FROZEN = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)
"""The moment every scene is set in."""

JOB_OUTPUT = """\
epoch 1/3  loss 2.3104  acc 0.412  lr 3.0e-04
epoch 2/3  loss 1.2871  acc 0.655  lr 3.0e-04
epoch 3/3  loss 0.8420  acc 0.781  lr 1.5e-04
saved outputs/model.pt (412 MB)
42
"""


@dataclass(frozen=True)
class Scene:
    """One state of the dashboard and how to get there."""

    name: str
    description: str
    keys: tuple[str, ...] = ()
    faults: str = ""
    with_instances: bool = True
    screenshot_size: tuple[int, int] = (160, 48)
    """The terminal size of its picture in ``screenshots/``."""


SCENES: dict[str, Scene] = {
    scene.name: scene
    for scene in (
        Scene("main", "Both markets, two instances and a finished job"),
        Scene("grouped", "Offers grouped by GPU: cheapest on each platform", keys=("v",)),
        Scene("create", "The create dialog, prefilled from an offer", keys=("enter",)),
        Scene("destroy", "Destroy confirmation with cost so far", keys=("3", "d")),
        Scene("log", "A job's output in the log pane", keys=("4",)),
        Scene("help", "Every key", keys=("question_mark",)),
        Scene("details", "An offer's details beside the table (a dialog when narrow)", keys=("i",)),
        Scene(
            "pick", "By GPU, enter: which platform's offer, on-demand or spot", keys=("v", "enter")
        ),
        Scene("run", "The run dialog: target, command, environment", keys=("3", "r")),
        Scene(
            "narrow",
            "80x24: one pane at a time, the instances tab chosen",
            keys=("3",),
            screenshot_size=(80, 24),
        ),
        Scene(
            "quit", "Quitting with two instances billing: leave, stop, destroy or stay", keys=("q",)
        ),
        Scene(
            "error",
            "RunPod failing: error mark and notification, Vast still listed",
            faults="runpod:error=500",
            with_instances=False,
        ),
        Scene(
            "nographql",
            "RunPod's GraphQL switched off: balance unknown with the reason, the rest on REST v2",
            faults="runpod:nographql",
        ),
    )
}


def _prepare(context: Context, scene: Scene) -> None:
    """Rent the scene's instances and record its job (before the app starts)."""
    if not scene.with_instances:
        return
    rentals: tuple[tuple[PlatformName, str], ...] = (("vast", "RTX 4090"), ("runpod", "RTX A4000"))
    for platform, gpu in rentals:
        result = context.market.refresh(
            OfferQuery(gpus=(gpu,), interruptible=False), platforms=[platform]
        )
        offer = next(o for o in result.offers if o.gpu_count == 1)
        spec = LaunchSpec(
            image="pytorch/pytorch", label=f"train-{platform}", max_price_per_hour=5.0
        )
        instance = context.fleet.create(offer, spec, wait=False)
        if platform == "vast":
            service = context.job_service
            service.logs_dir.mkdir(parents=True, exist_ok=True)
            log_path = service.log_path("3f9c2a71b0de")
            log_path.write_text(JOB_OUTPUT)
            service.store.save_job(
                Job(
                    job_id="3f9c2a71b0de",
                    platform="vast",
                    instance_id=instance.instance_id,
                    command="python3 train.py --epochs 3",
                    workdir="/workspace",
                    state=JobState.SUCCEEDED,
                    exit_code=0,
                    created_at=FROZEN - timedelta(minutes=9),
                    started_at=FROZEN - timedelta(minutes=9),
                    finished_at=FROZEN - timedelta(minutes=2, seconds=13),
                    log_path=str(log_path),
                    price_per_hour=instance.price_per_hour,
                )
            )


def scene_app(scene: Scene, state_dir: Path, project: Path | None = None) -> VpApp:
    """The app for ``scene`` on a fresh frozen demo cloud in ``state_dir``."""
    # The instances were rented 2h15m before the moment of the picture.
    now = [(FROZEN - timedelta(hours=2, minutes=15)).timestamp()]
    context = frozen_demo_context(state_dir, clock=lambda: now[0], faults=scene.faults)
    _prepare(context, scene)
    now[0] = FROZEN.timestamp()
    app = VpApp(
        context,
        project=project or Path("/home/you/project"),
        clock=lambda: FROZEN,
        live_updates=False,
    )
    return app


def run_before(scene: Scene, app: VpApp) -> Callable[[Pilot[None]], Awaitable[None]]:
    """What to do in ``app``, running, before the picture is taken."""

    async def settled() -> None:
        # Every fetch and action is done; the log tail runs for as long as a job is shown.
        busy = [w for w in app.workers if w.group != "log-tail"]
        if busy:  # (an empty list would mean "all of them")
            await app.workers.wait_for_complete(busy)

    async def steps(pilot: Pilot[None]) -> None:
        assert isinstance(app, VpApp)

        def loaded() -> bool:
            if app.context is None or not app.fleet_loaded.is_set():
                return False
            balances = set(app.state.accounts) | set(app.state.account_errors)
            return app.offers_loaded.is_set() and balances >= set(app.context.platforms)

        for _ in range(400):
            if loaded():
                break
            await asyncio.sleep(0.05)
        await settled()
        await pilot.pause()
        jobs = app.engine.job_service.history()
        if jobs:
            app.show_job(jobs[0])
            log = app.job_log
            for _ in range(400):
                if log is not None and log.lines:
                    break
                await asyncio.sleep(0.05)
        if not scene.faults:
            app.clear_notifications()
        else:  # the failures arrive in any order: show them in one
            shown = sorted(app._notifications, key=lambda n: (n.title, n.message))
            app.clear_notifications()
            for note in shown:
                app.notify(
                    note.message,
                    title=note.title,
                    severity=note.severity,
                    timeout=note.timeout,
                    markup=False,
                )
        for key in scene.keys:
            await pilot.press(key)
            await pilot.pause()
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        await settled()
        await pilot.pause()

    return steps


async def save_screenshots(directory: Path) -> list[Path]:
    """Write an SVG of every scene into ``directory`` (for `make screenshots`)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for scene in SCENES.values():
        with tempfile.TemporaryDirectory() as tmp:
            app = scene_app(scene, Path(tmp))
            try:
                async with app.run_test(size=scene.screenshot_size, notifications=True) as pilot:
                    await run_before(scene, app)(pilot)
                    path = directory / f"{scene.name}.svg"
                    app.save_screenshot(str(path.name), str(directory))
                    written.append(path)
            finally:
                app.close_engine()
    return written


def main() -> None:
    """`make screenshots`: write the scenes into the directory given (default ``screenshots``)."""
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    with tempfile.TemporaryDirectory() as data:
        os.environ["VP_DATA_DIR"] = data  # keep the user's own demo state out of it
        for path in asyncio.run(save_screenshots(directory.resolve())):
            print(path)


if __name__ == "__main__":
    main()
