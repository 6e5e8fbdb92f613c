"""`vp-tui`: start the dashboard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vp_tui import __version__
from vp_tui.config import ConfigError


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, load settings and run the app."""
    parser = argparse.ArgumentParser(prog="vp-tui", description="GPU rental dashboard.")
    parser.add_argument("--version", action="version", version=f"vp-tui {__version__}")
    parser.add_argument("--demo", action="store_true", help="use the built-in demo cloud")
    args = parser.parse_args(argv)

    from vp_tui.bootstrap import build_context

    try:
        context = build_context(demo=args.demo)
    except ConfigError as exc:
        print(f"vp-tui: {exc}", file=sys.stderr)
        sys.exit(2)

    from vp_tui.tui.app import VpApp

    VpApp(context).run()


if __name__ == "__main__":
    main()
