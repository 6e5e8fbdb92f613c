"""Driving `vp` in tests: its JSON output, and standard input that looks like a terminal.

The demo cloud's settings for these tests are the ``cli_demo`` fixture (conftest.py).
"""

from __future__ import annotations

import io
import json

import pytest

from vp_tui.cli import main as vp


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    """``vp --demo ARGS --json``, which must succeed, parsed."""
    capsys.readouterr()
    status = vp(["--demo", *args, "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


class Terminal(io.StringIO):
    """Standard input as on a terminal, with the answers already typed."""

    def isatty(self) -> bool:
        return True
