"""API requests the dashboard makes while nobody touches it, per hour, on the demo cloud.

The dashboard runs headless (Textual's test driver) on a private demo cloud
with the default settings (polling intervals as a user gets them), one
instance running so the instance poll has something to list, and the demo
cloud counts every request it serves by API and route. After a warm-up the
count over a window is scaled to an hour. The poll intervals are fixed, so
the figure is a property of the schedule rather than of the machine; the
window is long enough to hold several polls of every kind.

Run: ``python benchmarks/idle_requests.py [window_seconds]`` (default 180).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


async def measure(window: float) -> tuple[Counter[tuple[str, str, str]], float]:
    from demo_helpers import rent

    from vp_tui.bootstrap import build_context
    from vp_tui.sim.server import DemoCloud
    from vp_tui.tui.app import VpApp

    with tempfile.TemporaryDirectory() as data:
        os.environ["VP_DATA_DIR"] = data
        with DemoCloud(Path(data) / "demo", boot_seconds=0.3, faults="") as cloud:
            context = build_context(demo_cloud=cloud)
            rent(context)
            app = VpApp(context, project=Path(data))
            try:
                async with app.run_test(size=(140, 40)) as pilot:
                    while not (app.offers_loaded.is_set() and app.fleet_loaded.is_set()):
                        await pilot.pause(0.1)
                    await pilot.pause(5.0)  # the first round of fetches is over
                    cloud.reset_request_counts()
                    await pilot.pause(window)
                    counts = cloud.requests
                    await pilot.press("q")
            finally:
                context.close()
    return counts, window


def main() -> None:
    window = float(sys.argv[1]) if len(sys.argv) > 1 else 180.0
    counts, seconds = asyncio.run(measure(window))
    scale = 3600.0 / seconds
    total = sum(counts.values())
    print(f"idle dashboard, default intervals, {seconds:.0f} s window scaled to one hour:")
    by_api: Counter[str] = Counter()
    for (api, method, route), n in sorted(counts.items()):
        by_api[api] += n
        print(f"  {api:6s} {method:4s} {route:40s} {n * scale:7.0f}/h")
    for api, n in sorted(by_api.items()):
        print(f"  {api} total: {n * scale:.0f}/h")
    print(f"  all: {total * scale:.0f} requests/h")


if __name__ == "__main__":
    main()
