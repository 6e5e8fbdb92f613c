"""The line under the title: mode badge, burn rate, spend today and this month, how long
the balances last, what is running."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from vp_tui.core.money import format_duration, format_money, format_price

LOW_RUNWAY_HOURS = 24.0
"""Below this many hours of balance at the burn now, the runway is shown as a warning."""

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
        yield Static("", id="spend-month")
        yield Static("", id="runway")
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

    def show(
        self,
        *,
        burn: Burn,
        spent_today: float,
        running: int,
        spent_month: float | None = None,
        runway: float | None = None,
    ) -> None:
        """Update the money figures; platforms that did not answer are named, not zeroed.

        ``runway`` is how many hours the balances last at the burn now (the first to
        run dry); None when nothing burns or no balance is known.
        """
        unknown = f" + {', '.join(burn.unknown)} unknown" if burn.unknown else ""
        self.query_one("#burn-rate", Static).update(
            f"burn {format_price(burn.per_hour)}/h{unknown}"
        )
        self.query_one("#burn-rate", Static).set_class(bool(burn.unknown), "unknown")
        self.query_one("#spend-today", Static).update(f"today {format_money(spent_today)}")
        month = self.query_one("#spend-month", Static)
        month.update("" if spent_month is None else f"month {format_money(spent_month)}")
        lasts = self.query_one("#runway", Static)
        lasts.update("" if runway is None else f"balance lasts {format_duration(runway * 3600)}")
        lasts.set_class(runway is not None and runway < LOW_RUNWAY_HOURS, "low")
        self.query_one("#running-count", Static).update(f"{running} running{unknown}")

    def note(self, text: str) -> None:
        """A short note at the end of the bar (last refresh, problems)."""
        self.query_one("#status-note", Static).update(text)
