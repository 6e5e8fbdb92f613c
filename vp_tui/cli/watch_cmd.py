"""`vp watch`: wait until offers match a filter (a price alert for scripts)."""

from __future__ import annotations

import argparse
import time
from datetime import datetime

from vp_tui.bootstrap import Context
from vp_tui.cli.context import add_platform_option, chosen_platforms, opened
from vp_tui.cli.market_cmd import OFFER_COLUMNS, offer_row
from vp_tui.cli.output import CliError, print_json, stderr, stdout, table, warn
from vp_tui.cli.validate import positive_int
from vp_tui.core.alerts import BadFilter, parse_strict
from vp_tui.core.durations import format_span, parse_duration
from vp_tui.core.models import Offer, PlatformName
from vp_tui.core.offer_filter import OfferFilter
from vp_tui.core.ranking import cheapest_keys, rank
from vp_tui.platforms.base import OfferQuery

DEFAULT_INTERVAL = 60.0
"""Seconds between checks unless `--interval` says otherwise."""
MIN_INTERVAL = 5.0
"""The shortest interval: platforms rate-limit faster polling."""


def _interval(text: str) -> float:
    """A check interval of at least :data:`MIN_INTERVAL` seconds (``30s``, ``5m``, ``1h``)."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds < MIN_INTERVAL:
        raise argparse.ArgumentTypeError(f"the interval must be at least {MIN_INTERVAL:g}s")
    return seconds


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `vp watch`."""
    p = sub.add_parser(
        "watch",
        help="wait until offers match a filter, e.g. `vp watch 'h100 <2'`",
        description=(
            "Check offers now (--once) or every interval until some match FILTER, "
            "written in the offers filter language of the dashboard (e.g. 'h100 <2', "
            "'rtx 4090 <0.3 runpod', 'vram>=48 spot'). Exit 0 when offers match, 1 when "
            "none do with --once, 2 when the filter is not understood."
        ),
    )
    p.add_argument("filter", help="offers filter, e.g. 'h100 <2'")
    add_platform_option(p)
    p.add_argument("--once", action="store_true", help="check once and exit")
    p.add_argument(
        "--interval",
        type=_interval,
        default=DEFAULT_INTERVAL,
        help="time between checks, e.g. 30s, 5m (default 60s)",
    )
    p.add_argument(
        "--limit", type=positive_int, default=30, help="matching offers to print (default 30)"
    )
    p.add_argument("--json", action="store_true", help="print the matching offers as JSON")
    p.set_defaults(handler=watch)


def watch(args: argparse.Namespace) -> int:
    """Check offers until some match the filter; print them, cheapest first."""
    try:
        flt = parse_strict(args.filter)
    except BadFilter as exc:
        raise CliError(str(exc), 2) from None
    with opened(args) as context:
        names = chosen_platforms(context, args.platform)
        try:
            while True:
                found = _check(context, names, flt, once=args.once)
                if found is not None:
                    _show(found, args)
                    return 0
                if args.once:
                    warn(f"no offer matches `{flt.text.strip()}`")
                    return 1
                when = datetime.now().astimezone().strftime("%H:%M:%S")
                stderr.print(
                    f"{when} no offer matches `{flt.text.strip()}`; "
                    f"checking again in {format_span(args.interval)} (Ctrl-C stops)"
                )
                _wait(args.interval)
        except KeyboardInterrupt:
            stderr.print("stopped watching: nothing matched")
            return 130


def _wait(seconds: float) -> None:
    """Sleep between checks (Ctrl-C interrupts it)."""
    time.sleep(seconds)


def _check(
    context: Context, names: list[PlatformName], flt: OfferFilter, *, once: bool
) -> list[Offer] | None:
    """The offers matching ``flt`` now (cheapest first), or None when none do."""
    result = context.market.refresh(OfferQuery(limit=100_000), platforms=names, force=True)
    if result.statuses and len(result.failed) == len(result.statuses):
        message = "; ".join(s.error or f"{s.platform} failed" for s in result.failed)
        if once:
            raise CliError(message)
        warn(message)
        return None
    for status in result.failed:
        warn(f"{status.error}")
    matching = [offer for offer in result.offers if flt.matches(offer)]
    return rank(matching, "price") if matching else None


def _show(offers: list[Offer], args: argparse.Namespace) -> None:
    """Print the matching offers: JSON, or a table of the cheapest ``--limit``."""
    if args.json:
        print_json([offer.model_dump(mode="json") for offer in offers])
        return
    best = cheapest_keys(offers)
    table(OFFER_COLUMNS, [offer_row(offer, offer.key in best) for offer in offers[: args.limit]])
    stdout.print(f"{len(offers)} offers match `{args.filter.strip()}`; * cheapest per GPU model")
