"""`vp costs`: what was spent, from the ledger, and what the accounts have left."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from vp_tui.cli.context import add_platform_option, chosen_platforms, opened
from vp_tui.cli.output import CliError, print_json, stdout, table, warn
from vp_tui.core.models import Account
from vp_tui.core.money import format_money, format_price
from vp_tui.platforms.base import PlatformError
from vp_tui.services.ledger import LedgerRow, month_start


def since_date(text: str) -> datetime:
    """A ``--since`` value: ``YYYY-MM-DD`` (local midnight) or an ISO date-time."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date like 2026-11-01 (or 2026-11-01T09:00)"
        ) from None
    return when.astimezone() if when.tzinfo is None else when


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `vp costs`."""
    p = sub.add_parser(
        "costs", help="spend per instance, today, this month and since a date; balances"
    )
    add_platform_option(p)
    p.add_argument(
        "--since", type=since_date, help="count from this date (default: start of the month)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=costs)


def costs(args: argparse.Namespace) -> int:
    """List instances first (so the ledger is current), then print spend and balances.

    Exit 1 when a platform could not be listed or its balance read: its spend may
    be missing what it billed since it was last seen.
    """
    status = 0
    with opened(args) as context:
        names = chosen_platforms(context, args.platform)
        ledger = context.fleet.ledger
        if ledger is None:  # pragma: no cover - every context has one
            raise CliError("no spend ledger")
        listing = context.fleet.list(names)
        for failed in listing.statuses.values():
            if not failed.ok:
                warn(f"{failed.platform}: instances could not be listed: {failed.error}")
                status = 1
        accounts: dict[str, Account | str] = {}
        for name in names:
            try:
                accounts[name] = context.platforms[name].account()
            except PlatformError as exc:
                accounts[name] = str(exc)
                warn(f"{name}: balance could not be read: {exc}")
                status = 1
        now = ledger.clock()
        since = args.since or month_start(now)
        rows = [r for r in ledger.rows(since, now) if r.platform in set(names)]
        totals = ledger.totals(since=since, now=now)
    wanted: set[str] = set(names)
    per_platform: dict[str, dict[str, float]] = {
        p: v for p, v in totals.per_platform.items() if p in wanted
    }
    if args.json:
        print_json(
            {
                "since": since.isoformat(),
                "instances": [_row_json(r) for r in rows],
                "totals": {
                    "today": _sum(per_platform, "today"),
                    "month": _sum(per_platform, "month"),
                    "since": _sum(per_platform, "since"),
                    "per_platform": per_platform,
                },
                "balances": {name: _balance_json(a) for name, a in accounts.items()},
            }
        )
        return status
    table(
        ["platform", "instance", "GPU", "started", "ended", "state", "spent", "by"],
        [
            (
                r.platform,
                r.instance_id,
                r.gpu or "-",
                _clock(r.started_at),
                _clock(r.ended_at) if r.ended_at else "-",
                r.state,
                format_money(r.spent),
                "vp-tui" if r.started_by_us else "elsewhere",
            )
            for r in rows
        ],
        title=f"Spend since {_clock(since)}",
    )
    stdout.print(
        f"today {format_money(_sum(per_platform, 'today'))}   "
        f"this month {format_money(_sum(per_platform, 'month'))}   "
        f"since {_clock(since)} {format_money(_sum(per_platform, 'since'))}"
    )
    for shown, account in accounts.items():
        if isinstance(account, str):
            stdout.print(f"{shown}: balance unknown ({account})", markup=False)
        elif account.balance is None:
            why = f" ({account.balance_unknown})" if account.balance_unknown else ""
            stdout.print(f"{shown}: balance unknown{why}", markup=False)
        else:
            burn = (
                f", burning {format_price(account.spend_per_hour)}/h"
                if account.spend_per_hour
                else ""
            )
            stdout.print(f"{shown}: balance {format_money(account.balance)}{burn}", markup=False)
    return status


def _sum(per_platform: dict[str, dict[str, float]], window: str) -> float:
    return sum((values.get(window, 0.0) for values in per_platform.values()), 0.0)


def _row_json(row: LedgerRow) -> dict[str, Any]:
    return {
        "platform": row.platform,
        "instance_id": row.instance_id,
        "gpu": row.gpu,
        "label": row.label,
        "started_at": row.started_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "state": row.state,
        "spent": row.spent,
        "rate_per_hour": row.rate,
        "started_by_vp_tui": row.started_by_us,
    }


def _balance_json(account: Account | str) -> dict[str, Any]:
    if isinstance(account, str):
        return {"balance": None, "spend_per_hour": None, "error": account}
    return {
        "balance": account.balance,
        "spend_per_hour": account.spend_per_hour,
        "unknown_because": account.balance_unknown,
    }


def _clock(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M")
