"""Job log pane under load: lines/s, peak memory and key round-trip while output streams.

A producer thread feeds a headless app the way the dashboard's job workers do:
merged chunks (which end mid-line) posted as messages, each handled on the UI
thread with one `JobLog.write_chunk`. A second thread presses a key every
~20 ms and times how long until the key's handler runs.

Passes:
- max: the next chunk is posted as soon as the previous one was written
  (back-pressure), so this is the most the pane sustains, paint included.
- max + search + wrap: the same with highlights on and soft wrap.
- paced: a fixed rate (default 100,000 lines/s as 20 chunks/s), as the
  dashboard's 20 messages/s would deliver it: does the pane keep up, and how
  responsive are keys.
- memory: the max pass again under tracemalloc (slower; only its memory counts).

Run: `PYTHONPATH=. python benchmarks/log_view.py [--lines 1000000] [--batch 5000]`.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip

from vp_tui.tui.widgets.log_view import JobLog

DISTINCT_CHUNKS = 8


def make_chunks(batch: int) -> list[str]:
    """Distinct chunks of about `batch` lines each, cut mid-line, that join seamlessly."""
    lines = []
    for i in range(DISTINCT_CHUNKS * batch):
        level = "ERROR" if i % 997 == 0 else "INFO"
        lines.append(
            f"2025-01-01T12:{i // 60 % 60:02}:{i % 60:02}.{i % 1000:03}Z {level} step={i} "
            f"loss={1 / (i + 1):.6f} lr=3.0e-04 tok/s={10_000 + i % 5_000} gpu0=97%\n"
        )
    text = "".join(lines)
    size = len(text) // DISTINCT_CHUNKS
    cuts = [0, *(size * k + 17 for k in range(1, DISTINCT_CHUNKS)), len(text)]
    return [text[a:b] for a, b in pairwise(cuts)]


class Chunk(Message):
    """Merged output for the log, as a job worker posts it."""

    def __init__(self, data: str, posted: float) -> None:
        super().__init__()
        self.data = data
        self.posted = posted


@dataclass
class Result:
    """What one pass measured."""

    name: str
    lines: int = 0
    seconds: float = 0.0
    key_latencies: list[float] = field(default_factory=list)
    chunk_lags: list[float] = field(default_factory=list)
    frames: int = 0
    kept_lines: int = 0
    dropped_lines: int = 0
    traced_peak: int | None = None


class Bench(App[None]):
    """A headless app with one job log, fed by a thread."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("x", "ping", "Ping", id="bench.ping")]

    def __init__(self, max_lines: int) -> None:
        super().__init__()
        self.max_lines = max_lines
        self.written = threading.Event()
        self.pinged = threading.Event()
        self.ping_time = 0.0
        self.chunk_lags: list[float] = []

    def compose(self) -> ComposeResult:
        yield JobLog("bench", max_lines=self.max_lines, log_path="/tmp/bench.log")

    def on_mount(self) -> None:
        self.query_one(JobLog).focus()

    def on_chunk(self, message: Chunk) -> None:
        self.chunk_lags.append(time.perf_counter() - message.posted)
        self.query_one(JobLog).write_chunk(message.data)
        self.written.set()

    def action_ping(self) -> None:
        self.ping_time = time.perf_counter()
        self.pinged.set()


def produce(
    app: Bench, chunks: list[str], batch: int, total: int, rate: float | None, done: threading.Event
) -> None:
    """Post chunks: back-to-back with back-pressure, or at a fixed lines/s rate."""
    posted = 0
    start = time.perf_counter()
    index = 0
    while posted < total:
        app.written.clear()
        app.post_message(Chunk(chunks[index % len(chunks)], time.perf_counter()))
        index += 1
        posted += batch
        if rate is None:
            app.written.wait(30)
        else:
            delay = start + posted / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    done.set()


def press_keys(app: Bench, latencies: list[float], stop: threading.Event) -> None:
    """Press a key every ~20 ms and time how long until its handler runs."""
    while not stop.is_set():
        app.pinged.clear()
        sent = time.perf_counter()
        app.post_message(events.Key("x", "x"))
        if app.pinged.wait(10):
            latencies.append(app.ping_time - sent)
        time.sleep(0.02)


async def run_pass(
    name: str,
    args: argparse.Namespace,
    chunks: list[str],
    *,
    rate: float | None = None,
    setup: Callable[[JobLog], None] | None = None,
    traced: bool = False,
) -> Result:
    """Stream `args.lines` lines into a fresh app and measure."""
    result = Result(name)
    app = Bench(args.max_lines)
    async with app.run_test(size=(args.width, args.height)) as pilot:
        log = app.query_one(JobLog)
        if setup is not None:
            setup(log)
        await pilot.pause()
        view = log.lines_view
        paint = view.render_lines

        def counted(crop: Region) -> list[Strip]:
            result.frames += 1
            return paint(crop)

        view.render_lines = counted  # type: ignore[method-assign]
        if traced:
            tracemalloc.start()
            tracemalloc.reset_peak()
        done = threading.Event()
        stop_keys = threading.Event()
        producer = threading.Thread(
            target=produce,
            args=(app, chunks, args.batch, args.lines, rate, done),
            daemon=True,
        )
        keys = threading.Thread(
            target=press_keys, args=(app, result.key_latencies, stop_keys), daemon=True
        )
        start = time.perf_counter()
        producer.start()
        keys.start()
        expected = -(-args.lines // args.batch)
        while not done.is_set() or len(app.chunk_lags) < expected:
            await asyncio.sleep(0.01)
        await pilot.pause()
        result.seconds = time.perf_counter() - start
        stop_keys.set()
        keys.join()
        if traced:
            result.traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        result.lines = log.dropped_lines + len(log.lines)
        result.chunk_lags = app.chunk_lags
        result.kept_lines = len(log.lines)
        result.dropped_lines = log.dropped_lines
    return result


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the values fall."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(result: Result) -> None:
    """Print one pass."""
    ms = [value * 1000 for value in result.key_latencies]
    lag = [value * 1000 for value in result.chunk_lags]
    print(f"\n{result.name}")
    print(
        f"  {result.lines:,} lines in {result.seconds:.2f} s = "
        f"{result.lines / result.seconds:,.0f} lines/s, {result.frames} frames painted"
    )
    print(
        f"  key round-trip: p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms,"
        f" max {max(ms, default=float('nan')):.1f} ms over {len(ms)} presses"
    )
    print(
        f"  chunk post->write: p50 {percentile(lag, 0.5):.1f} ms,"
        f" p95 {percentile(lag, 0.95):.1f} ms, mean {statistics.fmean(lag):.1f} ms"
    )
    print(f"  kept {result.kept_lines:,} lines, {result.dropped_lines:,} dropped")
    if result.traced_peak is not None:
        print(f"  traced Python memory peak while streaming: {result.traced_peak / 2**20:.1f} MiB")


def current_rss_mib() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """The most resident memory this process has used (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    """Run the passes and print their numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--max-lines", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100_000, help="paced pass, lines/s")
    parser.add_argument("--paced-lines", type=int, default=500_000)
    parser.add_argument("--width", type=int, default=120)
    parser.add_argument("--height", type=int, default=36)
    parser.add_argument("--no-tracemalloc", action="store_true")
    args = parser.parse_args()

    chunks = make_chunks(args.batch)
    print(
        f"{args.lines:,} lines in chunks of ~{args.batch:,} lines "
        f"({len(chunks[1]) / 2**20:.2f} MiB), max_lines {args.max_lines:,}, "
        f"terminal {args.width}x{args.height} (headless)"
    )
    rss_before = current_rss_mib()

    report(await run_pass("max (back-pressure)", args, chunks))
    rss_after_max = peak_rss_mib()

    def search_and_wrap(log: JobLog) -> None:
        log.search = "error"
        log.wrap = True

    report(await run_pass("max + search 'error' + wrap", args, chunks, setup=search_and_wrap))

    paced = argparse.Namespace(**{**vars(args), "lines": args.paced_lines})
    report(await run_pass(f"paced at {args.rate:,.0f} lines/s", paced, chunks, rate=args.rate))

    print(
        f"\nresident memory: {rss_before:.0f} MiB before streaming, peak {rss_after_max:.0f} MiB "
        f"after the max pass, peak {peak_rss_mib():.0f} MiB after all passes"
    )
    if not args.no_tracemalloc:
        report(await run_pass("memory (max pass under tracemalloc)", args, chunks, traced=True))


if __name__ == "__main__":
    asyncio.run(main())
