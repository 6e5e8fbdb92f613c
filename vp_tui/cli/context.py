"""Opening the engine for one `vp` command."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from vp_tui.bootstrap import Context, build_context
from vp_tui.cli.output import CliError
from vp_tui.core.models import PLATFORMS, PlatformName


@contextmanager
def opened(args: argparse.Namespace) -> Iterator[Context]:
    """The engine for this command (demo cloud started when needed), closed afterwards.

    The demo cloud refuses a malformed ``VP_SIM_FAULTS`` or ``VP_SIM_BOOT_SECONDS``
    with a ValueError naming the variable: that is bad input (exit 2).
    """
    try:
        context = build_context(demo=bool(getattr(args, "demo", False)))
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    try:
        yield context
    finally:
        context.close()


def chosen_platforms(context: Context, platform: str | None) -> list[PlatformName]:
    """The platforms a command works on: the one named, else all enabled."""
    if platform is None:
        if not context.platforms:
            raise CliError(
                "no platform configured: set a key with `vp config-set --vast-api-key -` "
                "or use --demo",
                2,
            )
        return list(context.platforms)
    if platform not in context.platforms:
        raise CliError(
            f"{platform} is not configured: set its key with "
            f"`vp config-set --{platform}-api-key -` (or use --demo)",
            2,
        )
    return [platform]


def add_platform_option(
    parser: argparse.ArgumentParser, help_text: str = "only this platform"
) -> None:
    """The common --platform option."""
    parser.add_argument("--platform", choices=list(PLATFORMS), help=help_text)
