"""End to end in a real terminal: `vp-tui --demo` in tmux, driven by keystrokes.

Create an instance from an offer, run a command, see its output, destroy the
instance and see the destroy verified, all through the keyboard.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from requirements import require

pytestmark = pytest.mark.tmux

TMUX = shutil.which("tmux")


class Terminal:
    """One tmux session running a command."""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, *keys: str, literal: bool = False) -> None:
        args = ["tmux", "send-keys", "-t", self.name]
        if literal:
            args.append("-l")
        subprocess.run([*args, *keys], check=True)
        time.sleep(0.3)  # a person's pace: each key lands after the last one took effect

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-t", self.name, "-p"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    require("tmux")
    name = f"vp-tui-test-{uuid.uuid4().hex[:8]}"
    project = tmp_path / "project"
    project.mkdir()
    env = {
        "VP_DATA_DIR": str(tmp_path / "data"),
        "VP_SIM_BOOT_SECONDS": "0.5",
        "HOME": os.environ["HOME"],
        "XDG_CONFIG_HOME": os.environ.get("XDG_CONFIG_HOME", ""),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    # `env -i`: nothing of the test run's environment (COLUMNS, LINES...) reaches the app.
    command = (
        f"cd {shlex.quote(str(project))} && env -i {exports} "
        f"{shlex.quote(sys.executable)} -m vp_tui --demo; sleep 30"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "140", "-y", "40", "sleep 3600"],
        check=True,
    )
    # A detached session's size depends on the server's defaults: pin it, then start.
    subprocess.run(["tmux", "set-option", "-t", name, "window-size", "manual"], check=False)
    subprocess.run(["tmux", "resize-window", "-t", name, "-x", "140", "-y", "40"], check=True)
    subprocess.run(["tmux", "respawn-pane", "-k", "-t", name, command], check=True)
    try:
        yield Terminal(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)


def test_create_run_see_output_destroy(terminal: Terminal) -> None:
    terminal.wait_for("DEMO")
    terminal.wait_for("connected", timeout=60)
    terminal.wait_for("RTX", timeout=60)  # offers are listed
    terminal.send("/")
    terminal.send("runpod a4000", literal=True)
    terminal.send("Enter")
    terminal.send("Enter")  # create from the highlighted offer
    terminal.wait_for("Create on runpod")
    terminal.send("C-s")  # launch
    terminal.wait_for("Instance ready", timeout=90)
    terminal.send("3")
    terminal.send("r")
    terminal.wait_for("Run on")
    terminal.send("python3 -c \"print('answer', 6*7)\"", literal=True)
    terminal.send("Enter")
    terminal.wait_for("answer 42", timeout=90)  # the job's output, live in the log pane
    terminal.wait_for("Job succeeded", timeout=90)
    terminal.send("3")
    terminal.send("d")
    terminal.wait_for("Destroy instance?")
    terminal.send("y")
    terminal.wait_for("gone (verified)", timeout=90)
    terminal.send("q")
