"""The vp-tui application."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Static

from vp_tui.bootstrap import Context


class ModeBadge(Static):
    """DEMO or LIVE, so nobody mistakes the demo cloud for real money."""


class VpApp(App[None]):
    """The dashboard: platforms, offers, instances and job logs."""

    CSS_PATH = "app.tcss"
    TITLE = "vp-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="status-bar"):
            yield ModeBadge(
                "DEMO" if self.context.demo else "LIVE",
                id="mode-badge",
                classes="demo" if self.context.demo else "live",
            )
        yield Static("GPU rental dashboard", id="body")
        yield Footer()
