"""`python -m vp_tui.cli` is `vp`."""

from vp_tui.cli import run

run()
