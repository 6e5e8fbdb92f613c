"""`vp`: the vp-tui engine as a command line for scripts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from vp_tui import __version__
from vp_tui.cli import (
    config_cmd,
    costs_cmd,
    demo_cmd,
    guard_cmd,
    instances_cmd,
    jobs_cmd,
    market_cmd,
    watch_cmd,
)
from vp_tui.cli.output import CliError, error
from vp_tui.config import ConfigError, check_data_dir
from vp_tui.logs import LEVELS, close_logging, setup_logging
from vp_tui.platforms.base import PlatformError
from vp_tui.remote.keys import RemoteError
from vp_tui.services.jobs import JobError
from vp_tui.services.store import StoreError

COMMANDS_WITHOUT_DATA = frozenset({"config-set", "config-show"})
"""Commands that work without the data directory (they fix what points at it)."""


class VpArgumentParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), never a usage dump."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line pointing at ``--help``, and exit 2."""
        flat = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {flat} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The `vp` argument parser with every command."""
    parser: argparse.ArgumentParser = VpArgumentParser(
        prog="vp",
        description="Rent GPUs on Vast.ai and RunPod from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"vp {__version__}")
    parser.add_argument(
        "--demo", action="store_true", help="use the built-in demo cloud instead of real accounts"
    )
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        default="warning",
        help="how much to write to the log file in the data directory (default: warning)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    config_cmd.add_parsers(sub)
    market_cmd.add_parsers(sub)
    watch_cmd.add_parsers(sub)
    instances_cmd.add_parsers(sub)
    costs_cmd.add_parsers(sub)
    guard_cmd.add_parsers(sub)
    jobs_cmd.add_parsers(sub)
    demo_cmd.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `vp` and return its exit status."""
    parser = build_parser()
    args = parse(parser, argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    if args.command not in COMMANDS_WITHOUT_DATA:
        try:
            check_data_dir()
        except ConfigError as exc:
            error(str(exc))
            return 2
    try:
        setup_logging(args.log_level)
    except OSError as exc:  # an unwritable data directory must not stop a command
        error(f"cannot write the log file: {exc}")
    try:
        status: int = args.handler(args)
    except CliError as exc:
        error(str(exc))
        return exc.status
    except ConfigError as exc:
        error(str(exc))
        return 2
    except (PlatformError, RemoteError, JobError, StoreError) as exc:
        error(str(exc))
        return 1
    except OSError as exc:  # a local file or directory that cannot be used
        where = f": {exc.filename}" if exc.filename else ""
        error(f"{exc.strerror or exc}{where}")
        return 1
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    finally:
        close_logging()
    return status


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; a command with ``trailing=NAME`` takes more positionals after options.

    argparse fills a ``nargs="*"`` positional once, at its first place, so in
    `vp sync pull --instance-id ID outputs` the path after the option would be
    refused; those words are added to the list here instead.
    """
    args, extra = parser.parse_known_args(argv)
    trailing = getattr(args, "trailing", None)
    if extra and trailing and not any(word.startswith("-") for word in extra):
        words = list(getattr(args, trailing) or [])
        words.extend(extra)
        setattr(args, trailing, words)
        extra = []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
