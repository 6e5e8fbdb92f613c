"""`?`: every key of every pane, built from the bindings themselves; it scrolls from the
keyboard (arrows, page keys, home/end, and `j`/`k`/`g`/`G` as in the panes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


def _rows(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for binding in bindings:
        if not isinstance(binding, Binding):
            continue
        keys = binding.key_display or binding.key
        keys = ", ".join(k.strip() for k in keys.split(","))
        rows.append((keys.replace("slash", "/").replace("question_mark", "?"), binding.description))
    return rows


class HelpScroll(VerticalScroll):
    """The list of keys: holds the focus, so the arrows, page keys and j/k/g/G scroll it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", id="help.j"),
        Binding("k", "scroll_up", "Up", id="help.k"),
        Binding("g", "scroll_home", "Top", show=False, id="help.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="help.bottom"),
    ]


class HelpScreen(ModalScreen[None]):
    """All keys, grouped by where they work."""

    AUTO_FOCUS = "HelpScroll"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("q,question_mark", "close", "Close", show=False, id="help.close_keys"),
    ]

    def __init__(self, sections: list[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with HelpScroll(id="dialog", classes="wide"):
            yield Static("Keys", id="dialog-title")
            for title, bindings in self.sections:
                table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
                table.add_column(style="bold", no_wrap=True, min_width=14)
                table.add_column()
                for keys, description in _rows(bindings):
                    table.add_row(keys, description)
                yield Static(Text(title, style="bold underline"))
                yield Static(table, classes="help-section")
        yield Footer()

    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)
