"""Start-up: paint first, then load the engine, mount the panes and start polling.

The first frame goes out with placeholders; settings, the SDKs and the demo
cloud load in a worker. Only when the real panes are mounted does the app
take the engine (``context``), so no timer or handler ever looks for a pane
that is not there yet. Then the scheduler starts, and what an earlier session
left behind (jobs still running, launches still booting) is picked up.
"""

from __future__ import annotations

import logging

from rich.text import Text
from textual import work
from textual.widget import Widget
from textual.widgets import Input

from vp_tui.tui.base import DashboardBase
from vp_tui.tui.messages import EngineFailed, EngineReady, SessionRestored

log = logging.getLogger(__name__)

PLACEHOLDERS = ("#platforms-loading", "#offers-loading", "#instances-loading", "#log-loading")


class StartupMixin(DashboardBase):
    """From the first paint to a polling dashboard."""

    demo_flag: bool
    chosen_pane: str
    """The pane the user chose, maybe while loading (see ``layout``)."""

    def make_pane_widgets(self) -> list[Widget]:
        """The four panes' real widgets, in ``PLACEHOLDERS`` order (see ``VpApp``)."""
        raise NotImplementedError

    def start_scheduler(self) -> None:
        """Start polling (see ``VpApp``)."""
        raise NotImplementedError

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def load_engine(self) -> None:
        """Load settings, wire the platforms (start the demo cloud if asked)."""
        from vp_tui.bootstrap import build_context
        from vp_tui.config import ConfigError

        try:
            context = build_context(demo=self.demo_flag)
        except (ConfigError, ValueError) as exc:
            self.post_message(EngineFailed(str(exc)))
            return
        if self.stop_event.is_set():
            context.close()  # quit while loading: nothing will show it
            return
        # Import the panes' widgets here, off the UI thread.
        import vp_tui.tui.widgets.instances_table
        import vp_tui.tui.widgets.log_view
        import vp_tui.tui.widgets.offers_table
        import vp_tui.tui.widgets.platforms_pane  # noqa: F401

        self.post_message(EngineReady(context))

    def on_engine_failed(self, message: EngineFailed) -> None:
        self.exit(return_code=2, message=Text(f"vp-tui: {message.text}"))  # "[vast]" stays

    async def on_engine_ready(self, message: EngineReady) -> None:
        if self.stopping:
            message.context.close()
            return
        self.pending_context = message.context
        for placeholder, widget in zip(PLACEHOLDERS, self.make_pane_widgets(), strict=True):
            old = self.query_one(placeholder)
            pane = old.parent
            assert isinstance(pane, Widget)
            await pane.mount(widget, after=old)
            await old.remove()
        # The panes exist now: from here on the engine is there for everyone.
        self.context = message.context
        self.pending_context = None
        bar = self.status_bar
        if bar is not None:
            bar.set_mode(self.context.demo)
        table = self.offers_table
        if table is not None:
            filter_text = self.query_one("#offer-filter", Input).value
            if filter_text:
                table.filter_text = filter_text
        if not isinstance(self.focused, Input):
            # The pane chosen while loading (offers when none was): never another one.
            self.action_focus_pane(self.chosen_pane)
        self.start_engine()

    def start_engine(self) -> None:
        """Start polling and pick up what an earlier session left running."""
        self.start_scheduler()
        self.restore_session()

    @work(thread=True, group="restore", exit_on_error=False)
    def restore_session(self) -> None:
        """Read the store for running jobs and launches still booting (off the UI thread)."""
        service = self.engine.job_service
        jobs = service.running()
        launches = service.store.pending_launches()
        self.post_message(SessionRestored(jobs, launches))

    def on_session_restored(self, message: SessionRestored) -> None:
        if self.stopping:
            return
        self.reattach_jobs(message.jobs)
        self.resume_launches(message.launches)
