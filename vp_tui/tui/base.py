"""What every part of the dashboard shares: the engine, the clock, the stop event, the panes.

``VpApp`` is assembled from mixins, one per concern (layout, start-up,
refresh, instances, jobs, sync); each of them subclasses ``DashboardBase``
so they agree on these attributes and accessors. Pane accessors return
``None`` while a pane is not mounted (before the engine is up, during
shutdown), so a timer that fires at the wrong moment does nothing instead of
raising ``NoMatches``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from textual.app import App, ScreenStackError
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widget import Widget

from vp_tui.core.models import utcnow

if TYPE_CHECKING:
    from vp_tui.bootstrap import Context
    from vp_tui.core.models import Instance, Job, Offer
    from vp_tui.tui.state import DashboardState
    from vp_tui.tui.widgets.instances_table import InstancesTable
    from vp_tui.tui.widgets.log_view import JobLog
    from vp_tui.tui.widgets.offers_table import OffersTable
    from vp_tui.tui.widgets.platforms_pane import PlatformsPane
    from vp_tui.tui.widgets.status_bar import StatusBar

log = logging.getLogger(__name__)

W = TypeVar("W", bound=Widget)


def user_errors() -> tuple[type[Exception], ...]:
    """The failures an action reports to the user as a notification (imported lazily)."""
    from vp_tui.platforms.base import PlatformError
    from vp_tui.remote.keys import RemoteError
    from vp_tui.services.jobs import JobError

    return (PlatformError, JobError, RemoteError)


class DashboardBase(App[None]):
    """The state and accessors the dashboard's parts share (see the module docstring)."""

    context: Context | None
    """The engine; None until it has started (in a worker, after the first paint)."""
    pending_context: Context | None = None
    """An engine loaded while its panes are being mounted (closed if the app quits then)."""
    clock: Callable[[], datetime]
    project: Path
    live_updates: bool
    """False freezes the clock-driven ticks and polling (snapshot tests)."""
    destroy_timeout: float
    stop_event: threading.Event
    """Set when the app quits: every wait of every worker ends at once."""
    state: DashboardState
    offers_loaded: threading.Event
    """Set once offers have been shown (tests and screenshots wait on it)."""
    fleet_loaded: threading.Event
    """Set once instances have been listed."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = utcnow

    # ----------------------------------------------------------------- engine

    @property
    def engine(self) -> Context:
        """The engine (only called once it is ready)."""
        assert self.context is not None, "the engine has not started yet"
        return self.context

    @property
    def stopping(self) -> bool:
        """True once quitting has begun: nothing new may start."""
        return self.stop_event.is_set() or not self.is_running

    def engine_up(self) -> bool:
        """True when the engine is ready; otherwise says so and returns False."""
        if self.context is None:
            self.notify("Still starting up…", timeout=2)
            return False
        return True

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A notification; its text is shown as typed (provider and job text is never
        markup), unless ``markup`` is asked for."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def copy_text(self, text: str, what: str) -> None:
        """Put ``text`` on the clipboard and say what was copied.

        The copy goes through the terminal (OSC 52), which never answers: a terminal
        without clipboard support drops it silently, so the note says so rather than
        claiming the clipboard now holds it.
        """
        self.copy_to_clipboard(text)
        self.notify(
            f"Copied {what} (through the terminal; one without clipboard support ignores it)",
            timeout=4,
        )

    # ------------------------------------------------------------------ panes

    def pane(self, selector: str, kind: type[W]) -> W | None:
        """The mounted widget for ``selector``, or None (not mounted yet, or shutting down)."""
        try:
            return self.query_one(selector, kind)
        except (NoMatches, ScreenStackError):
            return None

    @property
    def offers_table(self) -> OffersTable | None:
        """The offers table, once mounted."""
        from vp_tui.tui.widgets.offers_table import OffersTable

        return self.pane("#offers", OffersTable)

    @property
    def instances_table(self) -> InstancesTable | None:
        """The instances table, once mounted."""
        from vp_tui.tui.widgets.instances_table import InstancesTable

        return self.pane("#instances", InstancesTable)

    @property
    def job_log(self) -> JobLog | None:
        """The log pane, once mounted."""
        from vp_tui.tui.widgets.log_view import JobLog

        return self.pane("#job-log", JobLog)

    @property
    def platforms_pane(self) -> PlatformsPane | None:
        """The platforms pane, once mounted."""
        from vp_tui.tui.widgets.platforms_pane import PlatformsPane

        return self.pane("#platforms", PlatformsPane)

    @property
    def status_bar(self) -> StatusBar | None:
        """The line under the title."""
        from vp_tui.tui.widgets.status_bar import StatusBar

        return self.pane("#status-bar", StatusBar)

    def modal_open(self) -> bool:
        """True while a dialog is up (polling waits; tab moves between fields)."""
        try:
            return isinstance(self.screen, ModalScreen)
        except ScreenStackError:  # shutting down: no screen to refresh for
            return True

    # ---------------------------------------------------------------- hooks
    # Implemented by one mixin each and called by others; declared here so every
    # part agrees on them.

    def begin_shutdown(self) -> None:
        """Stop polling and end every worker's waits (``app``)."""

    def refresh_status(self) -> None:
        """Redraw the money figures (burn, spend, counts) from the state (``refresh``)."""

    def request_fetch(self, kind: str) -> None:
        """Fetch ``offers``, ``instances`` or ``accounts`` now (``refresh``)."""

    def show_fleet(self) -> None:
        """Redraw the instances and their counts from the state (``refresh``)."""

    def current_instance(self, *, running: bool = True) -> Instance | None:
        """The highlighted instance, or None after saying why (``actions.instances``)."""
        return None

    def tail_log(self, job_id: str, generation: int, path: Path) -> object:
        """Start showing what ``path`` gains (``tailing``)."""
        return None

    def tick_job(self) -> None:
        """Move the shown job's elapsed time on (``actions.jobs``)."""

    def action_focus_pane(self, pane: str) -> None:
        """Focus one of the four panes (``layout``)."""

    def focused_pane(self) -> str | None:
        """The pane holding the focus, if any (``layout``)."""
        return None

    def open_create(self, offer: Offer) -> None:
        """The create dialog for ``offer`` (``actions.instances``)."""

    def reattach_jobs(self, running: list[Job]) -> None:
        """Resume streaming jobs an earlier session left running (``actions.jobs``)."""

    def resume_launches(self, launches: list[Instance]) -> None:
        """Wait again for launches left booting (``actions.instances``)."""
