"""`vp-tui`: start the dashboard."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from vp_tui import __version__
from vp_tui.logs import LEVELS, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, load settings and run the app."""
    parser = argparse.ArgumentParser(prog="vp-tui", description="GPU rental dashboard.")
    parser.add_argument("--version", action="version", version=f"vp-tui {__version__}")
    parser.add_argument("--demo", action="store_true", help="use the built-in demo cloud")
    parser.add_argument(
        "--project", type=Path, default=None, help="project to push and pull (default: cwd)"
    )
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        default="info",
        help="how much to write to the log file (default: info; see docs/tui.md)",
    )
    args = parser.parse_args(argv)
    setup_logging(args.log_level)

    # The dashboard paints first; settings, the engine and the SDKs load behind it.
    from vp_tui.tui.app import VpApp

    app = VpApp(demo=args.demo, project=args.project)
    try:
        app.run()
    finally:
        app.close_engine()
    leave(app.return_code or 0)


def leave(status: int) -> NoReturn:
    """End the process now that everything of ours is closed and written.

    The store commits every write as it happens, the log is flushed here and
    the engine (SSH connections, the demo cloud) is closed. What is left is the
    interpreter tearing down the SDKs' modules, which takes longer than the
    whole quit should (about half a second), and threads abandoned in a call to
    a slow provider: neither holds anything worth waiting for.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
