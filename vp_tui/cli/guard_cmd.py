"""`vp guard`: the budget, idle and lease checks as a process you can leave running."""

from __future__ import annotations

import argparse
import threading

from vp_tui.cli.context import opened
from vp_tui.cli.output import CliError, print_json, stdout
from vp_tui.cli.validate import duration
from vp_tui.services.guards import GuardReport

EXIT_CODES = "0 nothing to do, 1 a check or an action failed, 3 warned, 4 stopped or destroyed"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `vp guard`."""
    p = sub.add_parser(
        "guard",
        help="enforce the budget and idle limits and renew leases (--once for cron)",
        epilog=f"exit codes (with --once): {EXIT_CODES}",
    )
    p.add_argument("--once", action="store_true", help="check once and exit")
    p.add_argument(
        "--interval",
        type=duration,
        default=60.0,
        metavar="DURATION",
        help="time between checks when running (default 60s)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="report what the guards would do, do nothing"
    )
    p.add_argument("--json", action="store_true", help="print one JSON report per check")
    p.set_defaults(handler=guard)


def guard(args: argparse.Namespace) -> int:
    """Check now (and every ``--interval`` until Ctrl-C unless ``--once``)."""
    stop = threading.Event()
    with opened(args) as context:
        guards = context.guards
        if guards is None:  # pragma: no cover - every context has them
            raise CliError("no guards in this context")
        worst = 0
        try:
            while True:
                report = guards.check(act=not args.dry_run, stop=stop)
                _print(report, args.json)
                codes = {worst, report.exit_code}
                worst = 1 if 1 in codes else max(codes)  # a failure outranks everything
                if args.once:
                    return report.exit_code
                if stop.wait(args.interval):
                    break
        except KeyboardInterrupt:
            stop.set()
            return 130
    return worst


def _print(report: GuardReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_json())
        return
    if not report.events:
        stdout.print("guards: nothing to do")
        return
    for event in report.events:
        where = f"{event.instance}: " if event.instance else ""
        stdout.print(f"{event.guard}: {event.kind}: {where}{event.message}", markup=False)
