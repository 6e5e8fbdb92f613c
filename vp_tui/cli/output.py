"""How `vp` speaks: JSON for scripts, rich tables for people, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vp_tui.core.text import visible

# Piped output is for scripts and logs: do not wrap table rows at 80 columns.
_WIDTH = None if sys.stdout.isatty() else 200
# Nothing is read as markup: labels, commands, paths and provider messages are
# shown as they are (a label "[/x]" is text, a prompt keeps its "[y/N]").
stdout = Console(highlight=False, markup=False, width=_WIDTH)
stderr = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


class CliError(Exception):
    """An error to print as one line on stderr, exiting with ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (not through rich: scripts parse it)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    """One line on stderr, prefixed so it is clear who speaks."""
    stderr.print(Text.assemble(("vp:", "bold red"), " ", visible(message, newlines=True)))


def warn(message: str) -> None:
    """A warning line on stderr."""
    stderr.print(Text.assemble(("vp: warning:", "yellow"), " ", visible(message, newlines=True)))


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """A rich table on stdout."""
    out = Table(title=title, header_style="bold", box=None, pad_edge=False)
    for column in columns:
        justify: Any = "right" if column.startswith(("$", "#")) or column.endswith("GB") else "left"
        out.add_column(column, justify=justify)
    for row in rows:
        out.add_row(*(Text(visible("" if cell is None else str(cell))) for cell in row))
    stdout.print(out)
