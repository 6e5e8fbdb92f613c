"""`vp config-set` and `vp config-show`."""

from __future__ import annotations

import argparse
from typing import Any

from vp_tui.cli.output import CliError, print_json, stdout, table
from vp_tui.config import (
    ConfigError,
    coerce_value,
    iter_settings,
    load_config,
    parse_assignment,
    read_secret,
    write_settings,
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the config commands."""
    p = sub.add_parser(
        "config-set",
        help="change settings in the config file",
        description="Change settings in the config file, keeping all others. "
        "Give a key as '-' to read it from standard input (or a hidden prompt).",
    )
    p.add_argument("--vast-api-key", metavar="KEY|-", help="Vast.ai API key ('-' reads stdin)")
    p.add_argument("--runpod-api-key", metavar="KEY|-", help="RunPod API key ('-' reads stdin)")
    p.add_argument("--default-platform", choices=["vast", "runpod", "demo"])
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="any setting, e.g. --set vast.max_price_per_hour=0.8 (repeatable; empty clears)",
    )
    p.set_defaults(handler=config_set)

    p = sub.add_parser("config-show", help="show the effective settings and where each came from")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=config_show)


def config_set(args: argparse.Namespace) -> int:
    """Apply the given settings to the config file."""
    updates: dict[tuple[str, str], Any] = {}
    try:
        for flag, section in (("vast_api_key", "vast"), ("runpod_api_key", "runpod")):
            value = getattr(args, flag)
            if value is None:
                continue
            if value == "-":
                value = read_secret(f"{section} API key: ")
            updates[(section, "api_key")] = coerce_value(section, "api_key", value)
        if args.default_platform:
            updates[("general", "default_platform")] = args.default_platform
        for assignment in args.assignments:
            section, key, value = parse_assignment(assignment)
            if f"{section}.{key}" in {"vast.api_key", "runpod.api_key"} and value == "-":
                value = read_secret(f"{section} API key: ")
            updates[(section, key)] = value
        if not updates:
            raise CliError("nothing to set: give --vast-api-key, --set section.key=value, ...", 2)
        path = write_settings(updates)
        load_config(path)  # the result must still load
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    names = ", ".join(f"{s}.{k}" for s, k in updates)
    stdout.print(f"Saved {names} to {path}")
    return 0


def config_show(args: argparse.Namespace) -> int:
    """Print every setting, masked, with its source."""
    loaded = load_config()
    rows = list(iter_settings(loaded))
    if args.json:
        print_json(
            {
                "config_file": str(loaded.path),
                "settings": {
                    key: {
                        "value": value,
                        "source": source,
                        **({"origin": origin} if origin else {}),
                    }
                    for key, value, source, origin in rows
                },
            }
        )
        return 0
    stdout.print(
        f"Config file: {loaded.path}{'' if loaded.path.exists() else ' (not created yet)'}"
    )
    table(
        ["setting", "value", "source"],
        [
            (key, _show(value), source if origin is None else f"{source} ({origin})")
            for key, value, source, origin in rows
        ],
    )
    return 0


def _show(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
