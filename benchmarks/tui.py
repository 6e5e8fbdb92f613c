"""Dashboard benchmarks: first paint in a real terminal (tmux) against a bare Textual app,
then the offers table with 20,000 offers and the log pane under a flood of output.

Run: ``python benchmarks/tui.py`` (needs tmux). The offers-table and log-pane parts
are ``benchmarks/offers_table.py`` and ``benchmarks/log_view.py``, run from here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent


def first_paint(command: str, marker: str, env: dict[str, str], timeout: float = 30.0) -> float:
    """Seconds from starting ``command`` in tmux until ``marker`` is on the screen."""
    name = f"vp-bench-{uuid.uuid4().hex[:8]}"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    time.sleep(0.3)  # let a tmux server that just lost its last session exit first
    started = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "140", "-y", "40",
         f"env {exports} {command}; sleep 30"],
        check=True,
    )  # fmt: skip
    try:
        while time.perf_counter() - started < timeout:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-t", name, "-p"], capture_output=True, text=True
            ).stdout
            if marker in screen:
                return time.perf_counter() - started
            time.sleep(0.005)
        raise RuntimeError(f"{marker!r} never appeared")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)


def bench_first_paint(runs: int = 15) -> None:
    if shutil.which("tmux") is None:
        print("first paint: skipped (tmux is not installed)")
        return
    python = shlex.quote(sys.executable)
    with tempfile.TemporaryDirectory() as data:
        env = {
            "VP_DATA_DIR": data,
            "TERM": "xterm-256color",
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/root"),
            "PYTHONPATH": str(HERE.parent),
        }
        bare, ours = [], []
        first_paint(f"{python} {HERE / '_bare_app.py'}", "row-3", env)  # warm caches
        first_paint(f"{python} -m vp_tui --demo", "2 Offers", env)
        for _ in range(runs):
            bare.append(first_paint(f"{python} {HERE / '_bare_app.py'}", "row-3", env))
            ours.append(first_paint(f"{python} -m vp_tui --demo", "2 Offers", env))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"first paint in tmux (median of {runs}):")
    print(f"  bare Textual app (header, 3-row DataTable, footer): {b * 1000:.0f} ms")
    print(f"  vp-tui --demo (layout painted, data still loading): {o * 1000:.0f} ms")
    print(f"  ratio: {o / b:.2f} (goal <= 1.3)")


if __name__ == "__main__":
    bench_first_paint()
    if "--first-paint-only" in sys.argv:
        sys.exit(0)
    for script in ("offers_table.py", "log_view.py"):
        print(f"\n== {script}")
        subprocess.run([sys.executable, str(HERE / script)], check=False)
