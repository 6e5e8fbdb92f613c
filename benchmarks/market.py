"""Market benchmarks: normalising and ranking 20,000 offers, and a refresh of both
platforms at 300 ms API latency compared with one platform alone.

Run: ``python benchmarks/market.py`` (numbers go in docs/performance.md).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr

from vp_tui.config import Settings
from vp_tui.core.models import PlatformName
from vp_tui.platforms.base import OfferQuery
from vp_tui.platforms.runpod import RunPodPlatform
from vp_tui.platforms.vast import VastPlatform, offer_from_vast
from vp_tui.services.market import Market, rank
from vp_tui.sim.market import VastMarket, priced_offer
from vp_tui.sim.server import RUNPOD_DEMO_KEY, VAST_DEMO_KEY, DemoCloud


def vast_rows(count: int) -> list[dict[str, object]]:
    """``count`` offers in Vast's own shape, from several seeded demo markets."""
    rows: list[dict[str, object]] = []
    seed = 1
    now = time.time()
    while len(rows) < count:
        for row in VastMarket(seed).snapshot(now):
            rows.append({**priced_offer(row, now, 20.0), "id": len(rows) + 1})
            if len(rows) == count:
                break
        seed += 1
    return rows


def bench_normalise(count: int = 20_000, repeats: int = 5) -> None:
    rows = vast_rows(count)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        offers = [o for o in (offer_from_vast(r) for r in rows) if o is not None]
        for sort in ("price", "value", "vram", "reliability"):
            rank(offers, sort)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    offers = [o for o in (offer_from_vast(r) for r in rows) if o is not None]
    rank(offers, "price")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"normalise + rank 4 ways, {len(offers):,} offers:")
    print(f"  median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms")
    print(f"  peak traced memory {peak / 2**20:.1f} MiB")


def bench_refresh(latency_ms: int = 300, repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp, DemoCloud(Path(tmp), faults=None) as demo:
        settings = Settings()
        vast = VastPlatform(
            settings.vast.model_copy(
                update={"api_key": SecretStr(VAST_DEMO_KEY), "api_url": demo.vast_url}
            )
        )
        runpod = RunPodPlatform(
            settings.runpod.model_copy(
                update={"api_key": SecretStr(RUNPOD_DEMO_KEY), "api_url": demo.runpod_url}
            )
        )
        market = Market({"vast": vast, "runpod": runpod}, cache_seconds=0)
        query = OfferQuery()
        market.refresh(query)  # warm up: SDK imports, connections
        demo.set_faults(f"*:latency={latency_ms}")

        def timed(names: list[PlatformName]) -> float:
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                result = market.refresh(query, platforms=names, force=True)
                samples.append(time.perf_counter() - start)
                assert not result.failed, result.failed
            return statistics.median(samples)

        alone = {name: timed([name]) for name in ("vast", "runpod")}
        both = timed(["vast", "runpod"])
        slowest = max(alone.values())
        print(f"refresh at {latency_ms} ms API latency (median of {repeats}):")
        for name, seconds in alone.items():
            print(f"  {name} alone: {seconds * 1000:.0f} ms")
        print(f"  both at once: {both * 1000:.0f} ms")
        print(f"  ratio to the slowest single platform: {both / slowest:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    bench_normalise()
    bench_refresh()
