"""The guards in the dashboard: budget, idle and leases checked on a calm schedule.

The checks look at the instances the instances poll last listed (no listing of
their own) and run off the UI thread, since they may stop or destroy some,
verified; what they found comes back as a ``GuardsChecked`` message. A
budget at 80 % turns the status bar amber and notifies once; whatever the
guards stop or destroy, or fail to, is notified once too. While the dashboard
runs, the leases of instances armed with one are renewed at every check.
"""

from __future__ import annotations

import logging

from textual import work
from textual.notifications import SeverityLevel

from vp_tui.services.fleet import FleetResult
from vp_tui.services.guards import BUDGET_WARN_SHARE, GuardReport
from vp_tui.tui.base import DashboardBase
from vp_tui.tui.messages import GuardsChecked

log = logging.getLogger(__name__)

GUARDS_SECONDS = 60.0
"""Seconds between two checks of the guards."""


class GuardsMixin(DashboardBase):
    """Runs the guards on their own poll and shows what they did."""

    def guards_interval(self) -> float:
        """Seconds between guard checks."""
        return GUARDS_SECONDS

    def run_guards(self) -> None:
        """Check every guard once, on the instances the last poll listed (the guards
        stop or destroy off the UI thread; a platform not listed yet is not guarded)."""
        # Always through the worker: its end is what re-arms the guards' poll.
        self._check_guards(self.last_listing())

    def last_listing(self) -> FleetResult:
        """The instances poll's latest answer, as a listing: the known platforms' rows, and
        for the others why they are not known."""
        from vp_tui.core.models import Instance, PlatformName, PlatformStatus

        instances: list[Instance] = []
        statuses: dict[PlatformName, PlatformStatus] = {}
        for name, listing in self.state.fleet.listings.items():
            if listing.known:
                instances.extend(listing.instances)
                statuses[name] = PlatformStatus(platform=name, ok=True)
            else:
                error = listing.error or "not listed yet"
                statuses[name] = PlatformStatus(platform=name, ok=False, error=error)
        return FleetResult(instances, statuses)

    @work(thread=True, group="guards", exit_on_error=False)
    def _check_guards(self, listing: FleetResult) -> None:
        guards = self.context.guards if self.context is not None else None
        if guards is None or self.stop_event.is_set():
            return
        report = guards.check(act=True, stop=self.stop_event, listing=listing)
        self.post_message(GuardsChecked(report))

    def on_guards_checked(self, message: GuardsChecked) -> None:
        report: GuardReport = message.report
        bar = self.status_bar
        share = report.budget_share
        if bar is not None:
            bar.set_class(share is not None and share >= BUDGET_WARN_SHARE, "budget-warn")
        told = self.state.guard_notes
        for event in report.events:
            if event.kind == "renew" or event.guard == "listing":
                continue  # a failed listing is already on screen (the instances poll)
            text = f"{event.instance + ': ' if event.instance else ''}{event.message}"
            if text in told:
                continue
            told.add(text)
            severity: SeverityLevel = "error" if event.kind == "failed" else "warning"
            self.notify(
                text, title=f"Guard: {event.guard}", severity=severity, timeout=10, markup=False
            )
        if report.acted:
            self.request_fetch("instances")
