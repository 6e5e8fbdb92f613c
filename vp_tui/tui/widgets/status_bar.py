"""The line under the title: mode badge, burn rate, spend today, what is running."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from vp_tui.core.money import format_money, format_price

if TYPE_CHECKING:
    from vp_tui.core.fleet_state import Burn


class StatusBar(Horizontal):
    """DEMO/LIVE badge, total burn rate ($/h of everything billing) and spend today."""

    def __init__(self, demo: bool | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.demo = demo
        """None while the engine is still starting."""

    def compose(self) -> ComposeResult:
        yield Static("…", id="mode-badge")
        yield Static("", id="burn-rate")
        yield Static("", id="spend-today")
        yield Static("", id="running-count")
        yield Static("", id="status-note")

    def on_mount(self) -> None:
        if self.demo is not None:
            self.set_mode(self.demo)

    def set_mode(self, demo: bool) -> None:
        """DEMO (the built-in demo cloud) or LIVE (real accounts, real money)."""
        self.demo = demo
        badge = self.query_one("#mode-badge", Static)
        badge.update("DEMO" if demo else "LIVE")
        badge.set_class(demo, "demo")
        badge.set_class(not demo, "live")

    def show(self, *, burn: Burn, spent_today: float, running: int) -> None:
        """Update the money figures; platforms that did not answer are named, not zeroed."""
        unknown = f" + {', '.join(burn.unknown)} unknown" if burn.unknown else ""
        self.query_one("#burn-rate", Static).update(
            f"burn {format_price(burn.per_hour)}/h{unknown}"
        )
        self.query_one("#burn-rate", Static).set_class(bool(burn.unknown), "unknown")
        self.query_one("#spend-today", Static).update(f"today {format_money(spent_today)}")
        self.query_one("#running-count", Static).update(f"{running} running{unknown}")

    def note(self, text: str) -> None:
        """A short note at the end of the bar (last refresh, problems)."""
        self.query_one("#status-note", Static).update(text)
