"""The vp-tui application: platforms, offers, instances and job logs on one screen.

This module holds the layout and the wiring only. Each concern lives in its
own module and joins ``VpApp`` as a mixin: ``layout`` (panes and the narrow
layout), ``startup`` (paint first, then the engine), ``refresh`` and
``scheduler`` (polling), ``actions/`` (offers, instances, jobs, sync),
``tailing`` (the log pane's file, read off the UI thread), ``commands``
(help and palette, built from the bindings) and ``actions.quit`` (the quit
dialog when instances are billing).

Quitting sets one stop event that every worker's waits honour, so the app
returns at once whatever is in flight; a launch still booting is kept in the
store and resumed on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Static, Tab, Tabs

from vp_tui.core.models import utcnow
from vp_tui.tui.actions.instances import InstanceActions
from vp_tui.tui.actions.jobs import JobActions
from vp_tui.tui.actions.offers import OfferActions
from vp_tui.tui.actions.quit import QuitActions
from vp_tui.tui.actions.sync import SyncActions
from vp_tui.tui.commands import binding_sections, palette_commands
from vp_tui.tui.guarding import GuardsMixin
from vp_tui.tui.layout import PANES, PaneLayout
from vp_tui.tui.refresh import RefreshMixin
from vp_tui.tui.startup import StartupMixin
from vp_tui.tui.state import DashboardState
from vp_tui.tui.tailing import LogTailMixin
from vp_tui.tui.threads import DaemonThreadPool
from vp_tui.tui.widgets.filter_input import FilterInput, FilterNote
from vp_tui.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from vp_tui.bootstrap import Context

log = logging.getLogger(__name__)


class VpApp(
    QuitActions,
    PaneLayout,
    StartupMixin,
    RefreshMixin,
    OfferActions,
    InstanceActions,
    JobActions,
    SyncActions,
    LogTailMixin,
    GuardsMixin,
):
    """The dashboard: rent, run, watch and tear down GPUs from the keyboard."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    AUTO_FOCUS = "#offers"
    TITLE = "vp-tui"
    SUB_TITLE = "GPU rental dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("tab", "next_pane", "Next pane", show=False, priority=True, id="app.next_pane"),
        Binding(
            "shift+tab",
            "previous_pane",
            "Previous pane",
            show=False,
            priority=True,
            id="app.prev_pane",
        ),
        Binding("1", "focus_pane('platforms')", "Platforms pane", show=False, id="app.pane1"),
        Binding("2", "focus_pane('offers')", "Offers pane", show=False, id="app.pane2"),
        Binding("3", "focus_pane('instances')", "Instances pane", show=False, id="app.pane3"),
        Binding("4", "focus_pane('log')", "Log pane", show=False, id="app.pane4"),
        Binding("R", "refresh_now", "Refresh", id="app.refresh"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette"),
    ]

    def __init__(
        self,
        context: Context | None = None,
        *,
        demo: bool = False,
        project: Path | None = None,
        clock: Callable[[], datetime] = utcnow,
        refresh_seconds: float | None = None,
        fleet_seconds: float | None = None,
        accounts_seconds: float | None = None,
        live_updates: bool = True,
        destroy_timeout: float = 120.0,
    ) -> None:
        super().__init__()
        self.given_context = context
        """An engine made by the caller (tests, screenshots): used as soon as the panes are up."""
        self.context = None
        self.demo_flag = demo
        self.project = (project or Path.cwd()).resolve()
        self.clock = clock
        self._offers_seconds = refresh_seconds
        self._instances_seconds = fleet_seconds
        self._accounts_seconds = accounts_seconds
        self.live_updates = live_updates
        self.destroy_timeout = destroy_timeout
        self.stop_event = threading.Event()
        self.state = DashboardState()
        self.scheduler = self.setup_scheduler()
        self.offers_loaded = threading.Event()
        self.fleet_loaded = threading.Event()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusBar(None, id="status-bar")
        yield Tabs(*(Tab(title, id=f"tab-{pane}") for pane, title, _ in PANES), id="pane-tabs")
        with Grid(id="panes"):
            # The panes start as placeholders: the first frame goes out before the
            # widgets (and everything they import) are loaded.
            with Vertical(id="platforms-pane", classes="pane") as pane:
                pane.border_title = "1 Platforms"
                yield Static("", id="platforms-loading")
            with Vertical(id="offers-pane", classes="pane") as pane:
                pane.border_title = "2 Offers"
                yield FilterInput(
                    placeholder="/ filter: 4090 <0.5  vram>=24  runpod  spot",
                    leave_to="#offers",
                    id="offer-filter",
                )
                yield FilterNote("", id="offer-filter-note", markup=False)
                yield Static("Starting…", id="offers-loading")
            with Vertical(id="instances-pane", classes="pane") as pane:
                pane.border_title = "3 Instances"
                yield Static("", id="instances-loading")
            with Vertical(id="log-pane", classes="pane"):
                placeholder = Static("", id="log-loading")
                placeholder.border_title = "4 Log"
                yield placeholder
        yield Footer()

    def make_pane_widgets(self) -> list[Widget]:
        """The four panes' real widgets, once the engine is there."""
        from vp_tui.tui.widgets.instances_table import InstancesTable
        from vp_tui.tui.widgets.log_view import JobLog
        from vp_tui.tui.widgets.offers_table import OffersTable
        from vp_tui.tui.widgets.platforms_pane import PlatformsPane

        engine = self.pending_context
        names = list(engine.platforms) if engine is not None else []
        job_log = JobLog(id="job-log", log_path=None)
        job_log.border_title = "4 Log"
        return [
            PlatformsPane(names, id="platforms"),
            OffersTable(id="offers"),
            InstancesTable(id="instances"),
            job_log,
        ]

    def on_mount(self) -> None:
        # Thread workers run on daemon threads that quitting does not wait for.
        asyncio.get_running_loop().set_default_executor(DaemonThreadPool())
        self.apply_layout(self.size.width, self.size.height)
        if self.live_updates:
            self.set_interval(1.0, self.tick)
        if self.given_context is not None:
            from vp_tui.tui.messages import EngineReady

            self.post_message(EngineReady(self.given_context))
        else:
            # Paint first; settings, the engine and the SDKs load in a worker once the
            # first frame is out (imports in a thread would compete with drawing it).
            self.set_timer(0.05, self.load_engine)

    def start_scheduler(self) -> None:
        """Start polling offers, instances and balances."""
        from vp_tui.core.fleet_state import FleetState

        self.state.fleet = FleetState.empty(self.engine.platforms)
        self.scheduler.start()

    # -------------------------------------------------------------------- quit
    # `q` is ``actions.quit``: at once, or after the quit dialog when instances bill.

    def begin_shutdown(self) -> None:
        """Stop polling and end every worker's waits."""
        self.stop_event.set()
        self.scheduler.stop()

    def on_unmount(self) -> None:
        self.begin_shutdown()

    def close_engine(self) -> None:
        """Close the engine (SSH connections, the demo cloud it started), if any."""
        for context in (self.context, self.pending_context):
            if context is not None:
                context.close()
        self.context = self.pending_context = None

    # -------------------------------------------------------------- help/palette

    def action_help(self) -> None:
        """Show every key."""
        from vp_tui.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen([(s.title, s.bindings) for s in binding_sections(self)]))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every action of the dashboard in the command palette, from the bindings."""
        yield from super().get_system_commands(screen)
        yield from palette_commands(self)
