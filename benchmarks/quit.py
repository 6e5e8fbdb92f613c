"""How long `q` takes to give the terminal back, in the states where it used to hang.

Each run starts ``vp-tui --demo`` in tmux (a real terminal), brings it into a
state, presses `q` and times until a marker printed after the process exits
appears on the screen (tmux polled every 5 ms). The reference is a bare
Textual app quitting in the same tmux, measured in the same session.

States:
- idle: everything loaded, polls armed;
- slow API: every demo API answer takes 5 s (``VP_SIM_FAULTS=*:latency=5000``)
  and `q` comes while the first fetches are in flight;
- launching: an instance is booting (``VP_SIM_BOOT_SECONDS=600``) and the
  dashboard is polling it for readiness; it bills, so `q` has opened the quit
  dialog and the `q` timed is the second one (quit, leaving it running).

Run: ``python benchmarks/quit.py [runs]`` (needs tmux; default 7 runs per state).
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
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DONE = "QUIT-DONE"


def _screen(name: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-t", name, "-p"], capture_output=True, text=True, check=False
    ).stdout


def _wait(name: str, marker: str | tuple[str, ...], timeout: float) -> None:
    markers = (marker,) if isinstance(marker, str) else marker
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        screen = _screen(name)
        if any(m in screen for m in markers):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{markers!r} never appeared:\n{_screen(name)}")


def quit_time(
    command: str, env: dict[str, str], prepare: Callable[[str], None], timeout: float = 30.0
) -> float:
    """Seconds from pressing `q` until ``command`` has exited, after ``prepare(session)``."""
    name = f"vp-quit-{uuid.uuid4().hex[:8]}"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "140", "-y", "40",
         f"env {exports} {command}; echo {DONE}; sleep 30"],
        check=True,
    )  # fmt: skip
    try:
        prepare(name)
        started = time.perf_counter()
        subprocess.run(["tmux", "send-keys", "-t", name, "q"], check=True)
        while time.perf_counter() - started < timeout:
            if DONE in _screen(name):
                return time.perf_counter() - started
            time.sleep(0.005)
        raise RuntimeError("the app did not quit")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)


def _keys(name: str, *keys: str) -> None:
    for key in keys:
        subprocess.run(["tmux", "send-keys", "-t", name, key], check=True)
        time.sleep(0.1)


def main() -> None:
    if shutil.which("tmux") is None:
        print("quit: skipped (tmux is not installed)")
        return
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    python = shlex.quote(sys.executable)
    vp = f"{python} -m vp_tui --demo"
    bare = f"{python} {HERE / '_bare_app.py'}"

    def loaded(name: str) -> None:
        _wait(name, "connected", 60)
        time.sleep(1.0)

    def painted(name: str) -> None:
        _wait(name, "2 Offers", 60)
        time.sleep(1.0)

    def launching(name: str) -> None:
        loaded(name)
        _keys(name, "/", "vast 3090", "Enter", "Enter")
        time.sleep(0.5)
        _keys(name, "C-s")  # launch
        _wait(name, ("provisioning", "starting"), 60)  # it exists; readiness polling runs
        time.sleep(1.0)
        # It bills: the first `q` opens the quit dialog; the timed one quits leaving it.
        _keys(name, "q")
        _wait(name, "still billing", 30)

    states: list[tuple[str, str, dict[str, str], Callable[[str], None]]] = [
        ("bare Textual app", bare, {}, lambda name: _wait(name, "row-3", 30)),
        ("vp-tui idle, all loaded", vp, {}, loaded),
        ("vp-tui, every API answer takes 5 s", vp, {"VP_SIM_FAULTS": "*:latency=5000"}, painted),
        ("vp-tui, an instance booting", vp, {"VP_SIM_BOOT_SECONDS": "600"}, launching),
    ]
    results: dict[str, list[float]] = {label: [] for label, *_ in states}
    for _ in range(runs):
        for label, command, extra, prepare in states:
            with tempfile.TemporaryDirectory() as data:
                env = {
                    "VP_DATA_DIR": data,
                    "TERM": "xterm-256color",
                    "PATH": os.environ.get("PATH", ""),
                    "HOME": data,
                    "PYTHONPATH": str(HERE.parent),
                    **extra,
                }
                results[label].append(quit_time(command, env, prepare))
    reference = statistics.median(results["bare Textual app"])
    print(f"quit time, `q` to the shell prompt in tmux ({runs} runs each):")
    for label, times in results.items():
        median = statistics.median(times)
        print(
            f"  {label:38s} median {median * 1000:4.0f} ms  "
            f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})  "
            f"ratio to bare {median / reference:.2f}"
        )


if __name__ == "__main__":
    main()
