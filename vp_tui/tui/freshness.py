"""How old the offers and instances on screen are: "updated 12s ago" in the pane titles.

k9s and lazydocker show when what you look at was last true; so do the offers and
instances panes, in their border titles, moved on by the one-second tick. The age is
that of the OLDEST data in the pane: a platform whose refresh failed keeps its last
rows, and the title then says how old they are, not when the other platform answered.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from vp_tui.core.models import PlatformStatus
from vp_tui.core.money import format_duration
from vp_tui.tui.base import DashboardBase

JUST_NOW_SECONDS = 3.0
"""Younger than this reads "just now" (a tick's jitter is not news)."""

PANE_TITLES = {"offers": "2 Offers", "instances": "3 Instances"}
"""The panes whose titles carry their data's age, and their titles without it."""


def age_text(since: datetime | None, now: datetime) -> str:
    """``updated 12s ago``, ``updated just now``, or "" when nothing was loaded yet."""
    if since is None:
        return ""
    seconds = (now - since).total_seconds()
    if seconds < JUST_NOW_SECONDS:
        return "updated just now"
    return f"updated {format_duration(seconds)} ago"


def offers_as_of(statuses: Iterable[PlatformStatus]) -> datetime | None:
    """When the oldest offers shown were fetched: a failed platform's kept offers count
    from when they were last fresh; a platform with nothing shown does not count."""
    times = [status.checked_at if status.ok else status.stale_since for status in statuses]
    known = [t for t in times if t is not None]
    return min(known) if known else None


class FreshnessMixin(DashboardBase):
    """Keeps the offers and instances pane titles saying how old their rows are."""

    def show_freshness(self) -> None:
        """Write the age of each pane's data into its border title."""
        now = self.clock()
        ages = {
            "offers": self.state.offers_as_of,
            "instances": self.state.fleet.listed_as_of,
        }
        for pane, title in PANE_TITLES.items():
            text = age_text(ages[pane], now)
            wanted = f"{title} · {text}" if text else title
            for widget in self.query(f"#{pane}-pane"):
                if widget.border_title != wanted:  # the tick repaints only a changed title
                    widget.border_title = wanted
