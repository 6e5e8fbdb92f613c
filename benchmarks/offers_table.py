"""How fast the offers table is with 20,000 offers: load, filter keystroke, sort, page-down.

Run with ``python benchmarks/offers_table.py [--offers N] [--size WxH]``. The table is
mounted headless (``App.run_test``) under an Input that feeds its ``filter_text``, as the
dashboard does. A latency is the time from sending a key to the table having rendered the
last line of the frame that follows (the screen's own ~60 fps update timer included), i.e.
what a person waits for. "work" is the part spent in the table's own code (filter, sort,
row building) for the same operation; "gc max" the longest time the cyclic garbage
collector ran during one sample (a full collection walks every live Offer, so it, not the
table, makes the slowest samples). Prints numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import Input

from vp_tui.core.models import Offer, PlatformName, Stock
from vp_tui.core.offer_filter import SORTS, OfferIndex
from vp_tui.tui.widgets.offers_table import OffersTable

MODELS = (
    ("RTX 4090", "RTX_4090", 23.99, 0.35),
    ("RTX 3090", "RTX_3090", 24.0, 0.2),
    ("RTX 4080", "RTX_4080", 16.0, 0.25),
    ("RTX 5090", "RTX_5090", 32.0, 0.7),
    ("RTX A6000", "RTX_A6000", 47.99, 0.5),
    ("L40S", "L40S", 48.0, 0.8),
    ("A40", "A40", 48.0, 0.4),
    ("A100 SXM 80GB", "A100_SXM4", 80.0, 1.2),
    ("A100 PCIe 40GB", "A100_PCIE", 40.0, 0.9),
    ("H100 SXM", "H100_SXM", 80.0, 2.3),
    ("H100 PCIe", "H100_PCIE", 80.0, 1.9),
    ("H200 SXM", "H200", 141.0, 3.2),
    (None, "Tesla_P4", 8.0, 0.08),
)
LOCATIONS = ("US", "Sweden", "Norway", "Canada", "EU-RO-1", "US-TX-3", "Japan", "Germany", "CZ")
FILTERS = (
    "4090 <0.5",
    "a100 vast",
    "vram>=48 x2",
    "h100 runpod",
    "rel>0.99 <1",
    "spot us",
    "l40s secure",
    "<0.3",
)
"""Typed one character at a time (66 keystrokes in all)."""


def synthetic_market(count: int, seed: int = 11) -> list[Offer]:
    """``count`` seeded offers spread over both platforms and a dozen GPU models."""
    rng = random.Random(seed)
    offers = []
    for i in range(count):
        gpu, raw, vram, base = MODELS[rng.randrange(len(MODELS))]
        gpus = rng.choice((1, 1, 1, 2, 4, 8))
        platform: PlatformName = "runpod" if i % 5 == 0 else "vast"
        offers.append(
            Offer(
                platform=platform,
                offer_id=str(100_000 + i),
                gpu=gpu,
                gpu_raw=raw,
                gpu_count=gpus,
                vram_gb=vram,
                price_per_hour=round(base * gpus * rng.uniform(0.6, 1.8), 4),
                interruptible=rng.random() < 0.2,
                reliability=round(rng.uniform(0.85, 1.0), 4) if platform == "vast" else None,
                location=rng.choice(LOCATIONS),
                stock=rng.choice(list(Stock)) if platform == "runpod" else None,
                cloud=rng.choice(("SECURE", "COMMUNITY")) if platform == "runpod" else None,
            )
        )
    return offers


class TimedTable(OffersTable):
    """The offers table, noting when it last drew a line and how long its own work took."""

    last_render = 0.0
    work = 0.0

    def render_line(self, y: int) -> Strip:
        started = time.perf_counter()
        strip = super().render_line(y)
        self.last_render = time.perf_counter()
        self.work += self.last_render - started
        return strip

    def _rebuild(self, *, lost: Literal["stay", "top"]) -> None:
        started = time.perf_counter()
        super()._rebuild(lost=lost)
        self.work += time.perf_counter() - started


class Bench(App[None]):
    """A filter line above the table, as on the dashboard."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter", id="filter")
        yield TimedTable(id="offers")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one(TimedTable).filter_text = event.value


class GcClock:
    """Time spent in the cyclic garbage collector (all generations) since the last reset."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


GC = GcClock()


async def timed(
    pilot: Pilot[None],
    table: TimedTable,
    *,
    key: str | None = None,
    call: Callable[[], object] | None = None,
) -> tuple[float, float, float]:
    """(latency to the next frame of the table, table work, GC) of a key or a call, in ms."""
    GC.total = 0.0
    table.work = 0.0
    table.last_render = 0.0
    started = time.perf_counter()
    if key is not None:
        await pilot.press(key)
    if call is not None:
        call()
    await pilot.pause()
    end = table.last_render if table.last_render > started else time.perf_counter()
    return (end - started) * 1000, table.work * 1000, GC.total * 1000


def summary(name: str, samples: Sequence[tuple[float, float, float]]) -> str:
    latencies = sorted(s[0] for s in samples)
    work = sorted(s[1] for s in samples)
    collector = sorted(s[2] for s in samples)

    def p(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]

    return (
        f"{name:<30}{len(samples):>4}  {statistics.median(latencies):>8.1f}"
        f"  {p(latencies, 0.95):>8.1f}  {max(latencies):>8.1f}  {statistics.median(work):>8.1f}"
        f"  {p(work, 0.95):>8.1f}  {max(collector):>6.1f}"
    )


async def run(count: int, size: tuple[int, int], freeze: bool) -> None:
    offers = synthetic_market(count)
    started = time.perf_counter()
    OfferIndex(offers)
    index_ms = (time.perf_counter() - started) * 1000

    app = Bench()
    async with app.run_test(size=size) as pilot:
        table = app.query_one(TimedTable)
        filter_input = app.query_one(Input)

        def load(offers: Sequence[Offer] | OfferIndex) -> None:
            table.set_offers(offers)
            if freeze:
                gc.freeze()

        rows: dict[str, list[tuple[float, float, float]]] = {}

        rows["set_offers (list)"] = [await timed(pilot, table, call=lambda: load(offers))]
        new_prices = [
            o.model_copy(update={"price_per_hour": o.price_per_hour * 1.01}) for o in offers
        ]
        started = time.perf_counter()
        repriced = OfferIndex(new_prices, sorts=SORTS)
        rows["OfferIndex, all sorts (no UI)"] = [((time.perf_counter() - started) * 1000, 0, 0)]
        rows["set_offers (prebuilt index)"] = [
            await timed(pilot, table, call=lambda: load(repriced))
        ]

        filter_input.focus()
        await pilot.pause()
        keystrokes: list[tuple[float, float, float]] = []
        for text in FILTERS:
            filter_input.value = ""
            await pilot.pause()
            for char in text:
                keystrokes.append(await timed(pilot, table, key=char))
        rows["filter keystroke"] = keystrokes
        filter_input.value = ""
        await pilot.pause()

        table.focus()
        await pilot.pause()
        rows["sort change (s)"] = [await timed(pilot, table, key="s") for _ in range(12)]
        rows["page-down"] = [await timed(pilot, table, key="pagedown") for _ in range(30)]
        rows["cursor down"] = [await timed(pilot, table, key="down") for _ in range(30)]
        rows["end / home"] = [await timed(pilot, table, key=k) for k in ["end", "home"] * 5]
        rows["group toggle (v)"] = [await timed(pilot, table, key="v") for _ in range(10)]

    gc_note = "frozen after each load" if freeze else "default"
    print(f"offers table, {count:,} offers, terminal {size[0]}x{size[1]}, GC {gc_note}")
    print(f"OfferIndex build, price order only (no UI): {index_ms:.1f} ms")
    print()
    print(f"{'operation':<30}{'n':>4}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}  "
          f"{'work p50':>8}  {'work p95':>8}  {'gc max':>6}")  # fmt: skip
    for name, samples in rows.items():
        print(summary(name, samples))


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=20_000)
    parser.add_argument("--size", default="160x48", help="terminal size, WIDTHxHEIGHT")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after loading offers, so full collections skip them",
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    asyncio.run(run(args.offers, (width, height), args.gc_freeze))


if __name__ == "__main__":
    main()
