"""`vp-tui`: start the dashboard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from vp_tui import __version__


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, load settings and run the app."""
    parser = argparse.ArgumentParser(prog="vp-tui", description="GPU rental dashboard.")
    parser.add_argument("--version", action="version", version=f"vp-tui {__version__}")
    parser.add_argument("--demo", action="store_true", help="use the built-in demo cloud")
    parser.add_argument(
        "--project", type=Path, default=None, help="project to push and pull (default: cwd)"
    )
    args = parser.parse_args(argv)

    # The dashboard paints first; settings, the engine and the SDKs load behind it.
    from vp_tui.tui.app import VpApp

    app = VpApp(demo=args.demo, project=args.project)
    try:
        app.run()
    finally:
        if app.context is not None:
            app.context.close()
    if app.return_code:
        sys.exit(app.return_code)


if __name__ == "__main__":
    main()
