"""The vp-tui application: platforms, offers, instances and job logs on one screen.

The app holds no platform logic: every blocking call runs in a named thread
worker that reports back with a message (``messages.py``); failures of
workers are turned into notifications in one place
(``on_worker_state_changed``). Polling re-arms itself after each fetch and
pauses while a modal is open.
"""

from __future__ import annotations

import codecs
import subprocess
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, ScreenStackError, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Static, Tab, Tabs
from textual.worker import Worker, WorkerState

from vp_tui.core.money import format_duration, format_money, format_price
from vp_tui.core.states import InstanceState, JobState
from vp_tui.tui.messages import (
    ActionFailed,
    DestroyFinished,
    EngineFailed,
    EngineReady,
    FleetLoaded,
    InstanceProgress,
    InstanceReady,
    JobChanged,
    OffersLoaded,
    ShellReady,
)
from vp_tui.tui.screens.confirm import ConfirmScreen
from vp_tui.tui.screens.run import RunRequest, RunScreen
from vp_tui.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from vp_tui.bootstrap import Context
    from vp_tui.core.models import Instance, Job, LaunchSpec, Offer
    from vp_tui.services.jobs import RunOptions
    from vp_tui.tui.widgets.instances_table import InstancesTable
    from vp_tui.tui.widgets.log_view import JobLog
    from vp_tui.tui.widgets.offers_table import OffersTable
    from vp_tui.tui.widgets.platforms_pane import PlatformsPane


def _utcnow() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)


def _errors() -> tuple[type[Exception], ...]:
    """The failures an action reports to the user (imported when first needed)."""
    from vp_tui.platforms.base import PlatformError
    from vp_tui.remote.keys import RemoteError
    from vp_tui.services.jobs import JobError

    return (PlatformError, JobError, RemoteError)


PANES: tuple[tuple[str, str, str], ...] = (
    ("platforms", "1 Platforms", "#platforms"),
    ("offers", "2 Offers", "#offers"),
    ("instances", "3 Instances", "#instances"),
    ("log", "4 Log", "#job-log"),
)
"""(pane id, title, selector of the widget that takes focus)."""

TRANSITIONAL = {
    InstanceState.PROVISIONING,
    InstanceState.STARTING,
    InstanceState.STOPPING,
    InstanceState.TERMINATING,
}


class VpApp(App[None]):
    """The dashboard: rent, run, watch and tear down GPUs from the keyboard."""

    CSS_PATH = "app.tcss"
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
        Binding("1", "focus_pane('platforms')", "Platforms", show=False, id="app.pane1"),
        Binding("2", "focus_pane('offers')", "Offers", show=False, id="app.pane2"),
        Binding("3", "focus_pane('instances')", "Instances", show=False, id="app.pane3"),
        Binding("4", "focus_pane('log')", "Log", show=False, id="app.pane4"),
        Binding("R", "refresh_now", "Refresh", id="app.refresh"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette"),
    ]
    NARROW_WIDTH = 100
    NARROW_HEIGHT = 30

    def __init__(
        self,
        context: Context | None = None,
        *,
        demo: bool = False,
        project: Path | None = None,
        clock: Callable[[], datetime] = _utcnow,
        refresh_seconds: float | None = None,
        fleet_seconds: float | None = None,
        live_updates: bool = True,
        destroy_timeout: float = 120.0,
    ) -> None:
        super().__init__()
        self.context = context
        """The engine; None until it has started (in a worker, after the first paint)."""
        self.demo_flag = demo
        self.project = (project or Path.cwd()).resolve()
        self.clock = clock
        self._refresh_seconds = refresh_seconds
        self._fleet_seconds = fleet_seconds
        self.live_updates = live_updates
        """False freezes the clock-driven ticks (snapshot tests)."""
        self.destroy_timeout = destroy_timeout
        self._stop = threading.Event()
        self._market_timer: Timer | None = None
        self._fleet_timer: Timer | None = None
        self._instances: list[Instance] = []
        self._shown_job: Job | None = None
        self._shown_offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._following: set[str] = set()
        self._pending_focus_job: str | None = None
        self._last_errors: dict[str, str | None] = {}
        self.offers_loaded = threading.Event()
        self.fleet_loaded = threading.Event()

    # ------------------------------------------------------------------ layout

    @property
    def refresh_seconds(self) -> float:
        """Seconds between offer refreshes."""
        if self._refresh_seconds is not None:
            return self._refresh_seconds
        return self.context.settings.general.refresh_seconds if self.context else 10.0

    @property
    def fleet_seconds(self) -> float:
        """Seconds between instance refreshes."""
        return self._fleet_seconds or min(5.0, self.refresh_seconds)

    @property
    def engine(self) -> Context:
        """The engine (only called once it is ready)."""
        assert self.context is not None, "the engine has not started yet"
        return self.context

    def _engine_up(self) -> bool:
        if self.context is None:
            self.notify("Still starting up…", timeout=2)
            return False
        return True

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusBar(self.context.demo if self.context else None, id="status-bar")
        yield Tabs(*(Tab(title, id=f"tab-{pane}") for pane, title, _ in PANES), id="pane-tabs")
        with Grid(id="panes"):
            # Without an engine yet, the panes hold placeholders: the first frame goes
            # out before the widgets (and everything they import) are loaded.
            real = self.context is not None
            with Vertical(id="platforms-pane", classes="pane") as pane:
                pane.border_title = "1 Platforms"
                yield self._platforms_widget() if real else Static("", id="platforms-loading")
            with Vertical(id="offers-pane", classes="pane") as pane:
                pane.border_title = "2 Offers"
                yield Input(
                    placeholder="/ filter: 4090 <0.5  vram>=24  runpod  spot",
                    id="offer-filter",
                )
                yield self._offers_widget() if real else Static("Starting…", id="offers-loading")
            with Vertical(id="instances-pane", classes="pane") as pane:
                pane.border_title = "3 Instances"
                yield self._instances_widget() if real else Static("", id="instances-loading")
            with Vertical(id="log-pane", classes="pane"):
                if real:
                    yield self._log_widget()
                else:
                    placeholder = Static("", id="log-loading")
                    placeholder.border_title = "4 Log"
                    yield placeholder
        yield Footer()

    def _platforms_widget(self) -> Widget:
        from vp_tui.tui.widgets.platforms_pane import PlatformsPane

        return PlatformsPane(list(self.context.platforms) if self.context else [], id="platforms")

    def _offers_widget(self) -> Widget:
        from vp_tui.tui.widgets.offers_table import OffersTable

        return OffersTable(id="offers")

    def _instances_widget(self) -> Widget:
        from vp_tui.tui.widgets.instances_table import InstancesTable

        return InstancesTable(id="instances")

    def _log_widget(self) -> Widget:
        from vp_tui.tui.widgets.log_view import JobLog

        log = JobLog(id="job-log", log_path=None)
        log.border_title = "4 Log"
        return log

    def on_mount(self) -> None:
        self._apply_layout(self.size.width, self.size.height)
        self.set_interval(1 / 20, self._drain_log)
        if self.live_updates:
            self.set_interval(1.0, self._tick)
        if self.context is not None:
            self.query_one("#offers").focus()
            self.call_after_refresh(self._start_engine)
        else:
            # Paint first; settings, the engine and the SDKs load in a worker once the
            # first frame is out (imports in a thread would compete with drawing it).
            self.set_timer(0.05, self.load_engine)

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
        # Import the panes' widgets here, off the UI thread.
        import vp_tui.tui.widgets.instances_table
        import vp_tui.tui.widgets.log_view
        import vp_tui.tui.widgets.offers_table
        import vp_tui.tui.widgets.platforms_pane  # noqa: F401

        self.post_message(EngineReady(context))

    def on_engine_failed(self, message: EngineFailed) -> None:
        self.exit(return_code=2, message=f"vp-tui: {message.text}")

    async def on_engine_ready(self, message: EngineReady) -> None:
        self.context = message.context
        self.query_one("#status-bar", StatusBar).set_mode(self.context.demo)
        for placeholder, widget in (
            ("#platforms-loading", self._platforms_widget()),
            ("#offers-loading", self._offers_widget()),
            ("#instances-loading", self._instances_widget()),
            ("#log-loading", self._log_widget()),
        ):
            old = self.query_one(placeholder)
            pane = old.parent
            assert isinstance(pane, Widget)
            await pane.mount(widget, after=old)
            await old.remove()
        table = self._offers
        filter_text = self.query_one("#offer-filter", Input).value
        if filter_text:
            table.filter_text = filter_text
        if not isinstance(self.focused, Input):
            table.focus()
        self._start_engine()

    def _start_engine(self) -> None:
        self.refresh_market()
        self.refresh_fleet()
        self.reattach_jobs()

    def on_unmount(self) -> None:
        self._stop.set()

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        narrow = width < self.NARROW_WIDTH or height < self.NARROW_HEIGHT
        self.screen.set_class(narrow, "-narrow")
        if narrow:
            self._show_pane(self._focused_pane() or "offers")

    def _focused_pane(self) -> str | None:
        node: Widget | None = self.focused
        while node is not None:
            if node.id and node.id.endswith("-pane") and node.has_class("pane"):
                return node.id.removesuffix("-pane")
            node = node.parent  # type: ignore[assignment]
        return None

    def _show_pane(self, pane: str) -> None:
        for name, _, _ in PANES:
            self.query_one(f"#{name}-pane").set_class(name == pane, "-active")
        tabs = self.query_one("#pane-tabs", Tabs)
        if tabs.active != f"tab-{pane}":
            tabs.active = f"tab-{pane}"

    @on(Tabs.TabActivated, "#pane-tabs")
    def _tab_chosen(self, event: Tabs.TabActivated) -> None:
        pane = (event.tab.id or "").removeprefix("tab-")
        if not self.screen.has_class("-narrow"):
            return  # the tabs only steer the narrow layout
        if pane and self._focused_pane() != pane:
            self.action_focus_pane(pane)

    def on_descendant_focus(self) -> None:
        pane = self._focused_pane()
        if pane and self.screen.has_class("-narrow"):
            self._show_pane(pane)

    # ---------------------------------------------------------------- actions

    def action_focus_pane(self, pane: str) -> None:
        """Focus one of the four panes."""
        selector = dict((p, s) for p, _, s in PANES).get(pane)
        if selector is None:
            return
        if self.screen.has_class("-narrow"):
            self._show_pane(pane)
        found = self.query(selector)
        if found:  # the offers table appears once the engine has started
            found.first().focus()

    def _step_pane(self, step: int) -> None:
        if self._modal_open() or isinstance(self.focused, Input):
            # In dialogs (and the filter), tab moves between fields as usual.
            if step > 0:
                self.screen.focus_next()
            else:
                self.screen.focus_previous()
            return
        names = [p for p, _, _ in PANES]
        current = self._focused_pane() or "offers"
        self.action_focus_pane(names[(names.index(current) + step) % len(names)])

    def action_next_pane(self) -> None:
        """Focus the next pane."""
        self._step_pane(1)

    def action_previous_pane(self) -> None:
        """Focus the previous pane."""
        self._step_pane(-1)

    def action_help(self) -> None:
        """Show every key."""
        from vp_tui.tui.screens.create import CreateScreen
        from vp_tui.tui.screens.help import HelpScreen
        from vp_tui.tui.widgets.instances_table import InstancesTable
        from vp_tui.tui.widgets.log_view import JobLog
        from vp_tui.tui.widgets.offers_table import OffersTable
        from vp_tui.tui.widgets.platforms_pane import PlatformsPane

        sections: list[tuple[str, Iterable[BindingType]]] = [
            ("Everywhere", self.BINDINGS),
            ("Platforms pane", PlatformsPane.BINDINGS),
            (
                "Offers pane",
                [
                    Binding("slash", "", "Filter (e.g. 4090 <0.5 vram>=24 runpod spot)"),
                    *OffersTable.BINDINGS,
                ],
            ),
            ("Instances pane", InstancesTable.BINDINGS),
            ("Log pane", JobLog.BINDINGS),
            ("Create dialog", [Binding("enter", "", "Launch"), *CreateScreen.BINDINGS]),
            ("Run dialog", [Binding("enter", "", "Run"), *RunScreen.BINDINGS]),
            ("Confirmations", ConfirmScreen.BINDINGS),
        ]
        self.push_screen(HelpScreen(sections))

    def action_refresh_now(self) -> None:
        """Refresh offers and instances now, bypassing the cache."""
        if not self._engine_up():
            return
        self.refresh_market(force=True)
        self.refresh_fleet()
        self.notify("Refreshing…", timeout=2)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every action of the dashboard in the command palette."""
        yield from super().get_system_commands(screen)
        commands = [
            ("Refresh now", "Fetch offers and instances again", self.action_refresh_now),
            ("Help: all keys", "Show every key binding", self.action_help),
            (
                "Focus platforms",
                "Go to the platforms pane",
                lambda: self.action_focus_pane("platforms"),
            ),
            ("Focus offers", "Go to the offers pane", lambda: self.action_focus_pane("offers")),
            (
                "Focus instances",
                "Go to the instances pane",
                lambda: self.action_focus_pane("instances"),
            ),
            ("Focus log", "Go to the job log", lambda: self.action_focus_pane("log")),
            ("Filter offers", "Type a filter like 4090 <0.5", self.action_filter_offers),
            ("Cycle offer sort", "price, value, VRAM, reliability", self._cycle_sort),
            ("Group offers by GPU", "Cheapest per GPU on each platform", self._toggle_group),
            ("Create instance from offer", "Rent the highlighted offer", self._create_current),
            ("Run a command", "On the highlighted instance", self.action_run_command),
            ("Push files", "Project to the highlighted instance", self.action_push_files),
            ("Pull files", "Results from the highlighted instance", self.action_pull_files),
            ("Jobs of instance", "Its jobs and their logs", self.action_instance_jobs),
            ("Shell", "ssh into the highlighted instance", self.action_shell),
            ("Stop / start instance", "Stop (disk kept) or start again", self.action_stop_start),
            ("Destroy instance", "Destroy the highlighted instance", self.action_destroy),
            ("Cancel job", "Stop the job shown in the log", self._cancel_shown),
            (
                "Toggle log follow",
                "Follow the end of the log",
                lambda: self._job_log.action_toggle_follow(),
            ),
            ("Toggle log wrap", "Wrap long lines", lambda: self._job_log.action_toggle_wrap()),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)

    @property
    def _offers(self) -> OffersTable:
        from vp_tui.tui.widgets.offers_table import OffersTable

        return self.query_one("#offers", OffersTable)

    @property
    def _table(self) -> InstancesTable:
        from vp_tui.tui.widgets.instances_table import InstancesTable

        return self.query_one("#instances", InstancesTable)

    @property
    def _job_log(self) -> JobLog:
        from vp_tui.tui.widgets.log_view import JobLog

        return self.query_one("#job-log", JobLog)

    @property
    def _platforms(self) -> PlatformsPane:
        from vp_tui.tui.widgets.platforms_pane import PlatformsPane

        return self.query_one("#platforms", PlatformsPane)

    def _cycle_sort(self) -> None:
        if self._engine_up():
            self._offers.action_cycle_sort()

    def _toggle_group(self) -> None:
        if self._engine_up():
            self._offers.action_toggle_group()

    def _create_current(self) -> None:
        if not self._engine_up():
            return
        offer = self._offers.cursor_offer
        if offer is not None:
            self._open_create(offer)

    def _modal_open(self) -> bool:
        try:
            return isinstance(self.screen, ModalScreen)
        except ScreenStackError:  # shutting down: no screen to refresh for
            return True

    # ------------------------------------------------------------------ offers

    def action_filter_offers(self) -> None:
        """Focus the offer filter."""
        self.action_focus_pane("offers")
        self.query_one("#offer-filter", Input).focus()

    def on_key(self, event: events.Key) -> None:
        if (
            event.key == "slash"
            and self._focused_pane() == "offers"
            and not isinstance(self.focused, Input)
        ):
            event.stop()
            self.action_filter_offers()

    @on(Input.Changed, "#offer-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self.context is not None:
            self._offers.filter_text = event.value

    @on(Input.Submitted, "#offer-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        if self.context is not None:
            self._offers.focus()

    def on_offers_table_view_changed(self, event: OffersTable.ViewChanged) -> None:
        pane = self.query_one("#offers-pane")
        pane.border_subtitle = f"{event.visible:,} of {event.total:,}"

    @work(thread=True, exclusive=True, group="market", exit_on_error=False)
    def refresh_market(self, force: bool = False) -> None:
        """Fetch offers from the included platforms (off the UI thread)."""
        from vp_tui.core.offer_filter import SORTS, OfferIndex
        from vp_tui.platforms.base import OfferQuery

        pane = self._platforms
        result = self.engine.market.refresh(
            OfferQuery(limit=100_000), platforms=pane.included, force=force
        )
        self.post_message(OffersLoaded(result, OfferIndex(result.offers, sorts=SORTS)))

    def on_offers_loaded(self, message: OffersLoaded) -> None:
        if self.context is None:
            return
        self._offers.set_offers(message.index)
        pane = self._platforms
        counts: dict[str, int] = {}
        for offer in message.result.offers:
            counts[offer.platform] = counts.get(offer.platform, 0) + 1
        for name, status in message.result.statuses.items():
            pane.update_platform(name, status=status, offers=counts.get(name, 0))
            self._report_status(name, status.error)
        self.offers_loaded.set()

    def _report_status(self, key: str, error: str | None) -> None:
        """Notify once when a platform starts failing (and once when it recovers)."""
        before = self._last_errors.get(key)
        self._last_errors[key] = error
        if error and error != before:
            self.notify(error, title="Platform problem", severity="error", timeout=8)

    def on_platforms_pane_included_changed(self, event: PlatformsPane.IncludedChanged) -> None:
        self.refresh_market()

    def on_offers_table_offer_chosen(self, event: OffersTable.OfferChosen) -> None:
        self._open_create(event.offer)

    def _open_create(self, offer: Offer) -> None:
        from vp_tui.tui.screens.create import CreateDefaults, CreateScreen

        settings = self.engine.settings
        if offer.platform == "vast":
            defaults = CreateDefaults(
                settings.vast.default_image, settings.vast.disk_gb, settings.vast.max_price_per_hour
            )
        else:
            defaults = CreateDefaults(
                settings.runpod.default_image,
                float(settings.runpod.container_disk_gb),
                settings.runpod.max_price_per_hour,
            )

        def launch(spec: LaunchSpec | None) -> None:
            if spec is not None:
                self.create_instance(offer, spec)

        self.push_screen(CreateScreen(offer, defaults), launch)

    @work(thread=True, group="create", exit_on_error=False)
    def create_instance(self, offer: Offer, spec: LaunchSpec) -> None:
        """Rent an offer and wait until it is reachable, reporting progress."""
        self.call_from_thread(
            self.notify, f"Renting {offer.label} on {offer.platform}…", title="Create"
        )

        def progress(instance: Instance, text: str) -> None:
            self.post_message(InstanceProgress(instance, text))

        try:
            instance = self.engine.fleet.create(
                offer, spec, wait=True, poll_seconds=1.0, on_progress=progress
            )
        except _errors() as exc:
            self.post_message(ActionFailed("Create failed", str(exc)))
            return
        self.post_message(InstanceReady(instance))

    def on_instance_progress(self, message: InstanceProgress) -> None:
        self._merge_instance(message.instance)

    def on_instance_ready(self, message: InstanceReady) -> None:
        instance = message.instance
        self._merge_instance(instance)
        self.notify(
            f"{instance.platform} {instance.instance_id} is running and reachable "
            f"({instance.ssh}). Press r on it to run a command.",
            title="Instance ready",
        )
        self.refresh_fleet()

    def _merge_instance(self, instance: Instance) -> None:
        others = [i for i in self._instances if i.key != instance.key]
        self._instances = [*others, instance]
        self._table.sync(self._instances, self.clock())
        self._update_status()

    # --------------------------------------------------------------- instances

    @work(thread=True, exclusive=True, group="fleet", exit_on_error=False)
    def refresh_fleet(self) -> None:
        """List instances and accounts of every platform (off the UI thread)."""
        result = self.engine.fleet.list()
        accounts = {}
        for name, platform in self.engine.platforms.items():
            try:
                accounts[name] = platform.account()
            except _errors():
                continue
        self.engine.job_service.store.record_instances(result.instances)
        self.post_message(FleetLoaded(result.instances, result.statuses, accounts))

    def on_fleet_loaded(self, message: FleetLoaded) -> None:
        self._instances = message.instances
        now = self.clock()
        self._table.sync(message.instances, now)
        pane = self._platforms
        for name in self.engine.platforms:
            running = sum(
                1
                for i in message.instances
                if i.platform == name and i.state is InstanceState.RUNNING
            )
            status = message.statuses.get(name)
            pane.update_platform(name, account=message.accounts.get(name), running=running)
            if status is not None and not status.ok:
                pane.update_platform(name, status=status)
            if status is not None and not status.ok:
                self._report_status(name, status.error)
        self._update_status()
        self.fleet_loaded.set()

    def _update_status(self) -> None:
        if self.context is None:
            return
        from vp_tui.services.fleet import burn_rate, spent_since

        now = self.clock()
        midnight = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        bar = self.query_one("#status-bar", StatusBar)
        bar.show(
            burn_rate=burn_rate(self._instances),
            spent_today=spent_since(self._instances, midnight, now),
            running=sum(1 for i in self._instances if i.state is InstanceState.RUNNING),
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where worker failures become notifications, and polls re-arm."""
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.error is not None:
            error = worker.error
            self.notify(
                f"{type(error).__name__}: {error}", title="Something went wrong", severity="error"
            )
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if worker.group == "market" and self.live_updates:
            self._market_timer = self.set_timer(self.refresh_seconds, self._market_due)
        elif worker.group == "fleet" and self.live_updates:
            busy = any(i.state in TRANSITIONAL for i in self._instances) or bool(
                self._table.overrides
            )
            delay = min(2.0, self.fleet_seconds) if busy else self.fleet_seconds
            self._fleet_timer = self.set_timer(delay, self._fleet_due)

    def _market_due(self) -> None:
        if not self.is_running:
            return
        if self._modal_open():
            self._market_timer = self.set_timer(1.0, self._market_due)
        else:
            self.refresh_market()

    def _fleet_due(self) -> None:
        if not self.is_running:
            return
        if self._modal_open():
            self._fleet_timer = self.set_timer(1.0, self._fleet_due)
        else:
            self.refresh_fleet()

    def _tick(self) -> None:
        if self.context is None:
            return
        now = self.clock()
        self._table.refresh_times(now)
        self._update_status()
        job = self._shown_job
        if job is not None and not job.state.is_final:
            self._job_log.update_job(
                state=str(job.state), elapsed=job.duration_seconds, exit_code=None
            )

    def _current_instance(self, *, running: bool = True) -> Instance | None:
        if not self._engine_up():
            return None
        instance = self._table.current
        if instance is None:
            self.notify(
                "No instance selected: create one from the offers pane.", severity="warning"
            )
            return None
        if running and instance.state is not InstanceState.RUNNING:
            self.notify(
                f"{instance.name} is {instance.state}; wait until it is running.",
                severity="warning",
            )
            return None
        return instance

    def action_run_command(self) -> None:
        """Ask for a command and run it on the highlighted instance."""
        instance = self._current_instance()
        if instance is None:
            return

        def run(request: RunRequest | None) -> None:
            if request is not None:
                self.run_job(instance, request)

        self.push_screen(
            RunScreen(instance.name, self.engine.settings.sync.remote_dir, str(self.project)), run
        )

    @work(thread=True, group="jobs", exit_on_error=False)
    def run_job(self, instance: Instance, request: RunRequest) -> None:
        """Push, start, stream, pull: the whole run, reporting through messages."""
        from vp_tui.services.jobs import RunOptions

        service = self.engine.job_service
        options = RunOptions(
            project=self.project, sync_up=request.push, pull=request.pull, workdir=request.workdir
        )

        def changed(job: Job) -> None:
            self.post_message(JobChanged(job))

        try:
            job = service.start(instance, request.command, options, on_state=changed)
            self._pending_focus_job = job.job_id
            self.post_message(JobChanged(job))
            self._follow(job, options)
        except _errors() as exc:
            self.post_message(ActionFailed("Run failed", str(exc)))

    def _follow(self, job: Job, options: RunOptions | None) -> None:
        service = self.engine.job_service
        self._following.add(job.job_id)

        def changed(current: Job) -> None:
            self.post_message(JobChanged(current))

        try:
            job = service.follow(job, on_state=changed, stop=self._stop)
            if job.state.is_final and options is not None:
                job, result = service.finish(job, options, on_state=changed)
                if result is not None:
                    self.call_from_thread(
                        self.notify,
                        f"Pulled {result.files} files, {result.bytes:,} bytes",
                        title="Pull",
                    )
        finally:
            self._following.discard(job.job_id)
        if job.state.is_final:
            self.post_message(JobChanged(job))

    @work(thread=True, group="jobs", exit_on_error=False)
    def follow_job(self, job: Job) -> None:
        """Re-attach to a job started earlier (by this app, or by `vp run --detach`)."""
        try:
            self._follow(job, None)
        except _errors() as exc:
            self.post_message(ActionFailed("Log", str(exc)))

    def reattach_jobs(self) -> None:
        """Jobs still running from an earlier session resume streaming."""
        running = self.engine.job_service.running()
        for job in running:
            self.follow_job(job)
        if running:
            self.show_job(running[0])

    def on_job_changed(self, message: JobChanged) -> None:
        job = message.job
        if self._pending_focus_job == job.job_id and job.state is JobState.RUNNING:
            self._pending_focus_job = None
            self.show_job(job)
            self.action_focus_pane("log")
        if self._shown_job is not None and self._shown_job.job_id == job.job_id:
            self._shown_job = job
            self._job_log.update_job(
                state=str(job.state), elapsed=job.duration_seconds, exit_code=job.exit_code
            )
        if job.state.is_final and job.job_id not in self._following:
            if job.state is JobState.LOST:
                self.notify(
                    f"Job {job.job_id} lost: {job.error or 'instance gone'}", severity="warning"
                )
            else:
                self.notify(
                    f"{job.command}\nexit code {job.exit_code}, "
                    f"{format_duration(job.duration_seconds)}, ~{format_money(job.estimated_cost)}",
                    title=f"Job {job.state}",
                    severity="information" if job.state is JobState.SUCCEEDED else "warning",
                )

    def show_job(self, job: Job) -> None:
        """Show a job in the log pane: what is on disk, then what arrives."""
        self._shown_job = job
        self._shown_offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        log_path = job.log_path or str(self.engine.job_service.log_path(job.job_id))
        self._job_log.show_job(
            job.job_id,
            job.command,
            log_path=log_path,
            state=str(job.state),
            elapsed=job.duration_seconds,
            exit_code=job.exit_code,
        )
        self._job_log.border_title = f"4 Log: {job.job_id}"
        path = Path(log_path)
        if path.exists():
            size = path.stat().st_size
            # The pane keeps the last lines only; start near the end of a big log.
            self._shown_offset = max(0, size - 4 * 1024 * 1024)
            if self._shown_offset:
                with path.open("rb") as handle:
                    handle.seek(self._shown_offset)
                    handle.readline()
                    self._shown_offset = handle.tell()
        self._drain_log()

    def _drain_log(self) -> None:
        """Append what the shown job's local log gained since the last look."""
        job = self._shown_job
        if job is None:
            return
        path = Path(job.log_path or self.engine.job_service.log_path(job.job_id))
        try:
            with path.open("rb") as handle:
                handle.seek(self._shown_offset)
                data = handle.read(8 * 1024 * 1024)
        except OSError:
            return
        if not data:
            return
        self._shown_offset += len(data)
        # A chunk may end inside a UTF-8 sequence: the decoder keeps it for the next read.
        self._job_log.write_chunk(self._decoder.decode(data))

    def action_push_files(self) -> None:
        """Push the project to the highlighted instance."""
        instance = self._current_instance()
        if instance is not None:
            self.sync_files(instance, "push")

    def action_pull_files(self) -> None:
        """Pull results from the highlighted instance into the project."""
        instance = self._current_instance()
        if instance is not None:
            self.sync_files(instance, "pull")

    @work(thread=True, group="sync", exit_on_error=False)
    def sync_files(self, instance: Instance, direction: str) -> None:
        """Push or pull, then say what moved."""
        service = self.engine.job_service
        self.call_from_thread(self.notify, f"{direction} {instance.name}…", title="Sync", timeout=2)
        try:
            if direction == "push":
                result = service.push(instance, self.project)
            else:
                result = service.pull(instance, self.project)
        except _errors() as exc:
            self.post_message(ActionFailed(f"{direction.capitalize()} failed", str(exc)))
            return
        how = f" via SFTP ({result.note})" if result.note else ""
        self.call_from_thread(
            self.notify,
            f"{result.files} files, {result.bytes:,} bytes{how}",
            title=f"{direction.capitalize()} {instance.name} done",
        )

    def action_instance_jobs(self) -> None:
        """List the highlighted instance's jobs; pick one to show its log."""
        from vp_tui.tui.screens.jobs import JobsScreen

        instance = self._current_instance(running=False)
        if instance is None:
            return
        jobs = self.engine.job_service.history(
            platform=instance.platform, instance_id=instance.instance_id
        )

        def chosen(job: Job | None) -> None:
            if job is None:
                return
            self.show_job(job)
            if not job.state.is_final and job.job_id not in self._following:
                self.follow_job(job)
            self.action_focus_pane("log")

        self.push_screen(JobsScreen(f"Jobs on {instance.name}", jobs), chosen)

    def action_shell(self) -> None:
        """Open a shell on the highlighted instance (the app is suspended meanwhile)."""
        instance = self._current_instance()
        if instance is not None:
            self.prepare_shell(instance)

    @work(thread=True, group="shell", exit_on_error=False)
    def prepare_shell(self, instance: Instance) -> None:
        """Connect once (records the host key), then hand over to the system ssh."""
        try:
            remote = self.engine.job_service.remote(instance)
            argv = remote.ssh_command(tty=True)
        except _errors() as exc:
            self.post_message(ActionFailed("Shell", str(exc)))
            return
        self.post_message(ShellReady(argv))

    def on_shell_ready(self, message: ShellReady) -> None:
        try:
            with self.suspend():
                subprocess.call(message.argv)
        except Exception as exc:  # e.g. no terminal to hand over in headless runs
            self.notify(f"cannot open a shell here: {exc}", title="Shell", severity="warning")
            return
        self.refresh_fleet()

    def action_stop_start(self) -> None:
        """Stop a running instance, or start a stopped one."""
        instance = self._current_instance(running=False)
        if instance is None:
            return
        if instance.state is InstanceState.RUNNING:
            self.stop_start(instance, "stop")
        elif instance.state is InstanceState.STOPPED:
            self.stop_start(instance, "start")
        else:
            self.notify(f"{instance.name} is {instance.state}", severity="warning")

    @work(thread=True, group="stop-start", exit_on_error=False)
    def stop_start(self, instance: Instance, verb: str) -> None:
        """Ask the platform to stop or start an instance."""
        try:
            if verb == "stop":
                self.engine.fleet.stop(instance.instance_id, instance.platform)
            else:
                self.engine.fleet.start(instance.instance_id, instance.platform)
        except _errors() as exc:
            self.post_message(ActionFailed(f"{verb.capitalize()} failed", str(exc)))
            return
        note = " (its disk still bills)" if verb == "stop" else ""
        self.call_from_thread(
            self.notify, f"{instance.name}: {verb} requested{note}", title=verb.capitalize()
        )
        self.call_from_thread(self.refresh_fleet)

    def action_destroy(self) -> None:
        """Confirm, then destroy the highlighted instance and verify it is gone."""
        instance = self._current_instance(running=False)
        if instance is None:
            return
        now = self.clock()
        running = [
            j
            for j in self.engine.job_service.history(
                platform=instance.platform, instance_id=instance.instance_id
            )
            if not j.state.is_final
        ]
        jobs = ", ".join(f"{j.job_id} ({j.command})" for j in running) or "none"
        body = (
            f"{instance.platform} {instance.instance_id}"
            f"{' ' + instance.label if instance.label else ''}\n"
            f"{instance.gpu_count}x {instance.gpu or instance.gpu_raw}, "
            f"{format_price(instance.price_per_hour)}/h, "
            f"spent so far {format_money(instance.spent_at(now))}\n"
            f"Running jobs: {jobs}\n\nIts disk and everything on it is lost."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                from vp_tui.tui.widgets.instances_table import RowOverride

                self._table.set_override(
                    instance.key, RowOverride(InstanceState.TERMINATING), self.clock()
                )
                self.destroy_instance(instance)

        self.push_screen(ConfirmScreen("Destroy instance?", body, yes="Destroy"), answer)

    @work(thread=True, group="destroy", exit_on_error=False)
    def destroy_instance(self, instance: Instance) -> None:
        """Destroy and re-list until gone; an unverifiable destroy is an error."""
        try:
            self.engine.fleet.destroy(
                instance.instance_id, instance.platform, timeout=self.destroy_timeout
            )
        except _errors() as exc:
            self.post_message(DestroyFinished(instance.key, str(exc)))
            return
        self.engine.job_service.store.mark_gone(instance.platform, instance.instance_id)
        self.post_message(DestroyFinished(instance.key, None))

    def on_destroy_finished(self, message: DestroyFinished) -> None:
        now = self.clock()
        if message.error is None:
            self._table.forget(message.key)
            self._instances = [i for i in self._instances if i.key != message.key]
            self._update_status()
            self.notify(f"{message.key} is gone (verified).", title="Destroyed")
        else:
            from vp_tui.tui.widgets.instances_table import RowOverride

            self._table.set_override(
                message.key, RowOverride(InstanceState.ERROR, "destroy unverified"), now
            )
            self.notify(message.error, title="Destroy NOT verified", severity="error", timeout=15)

    # --------------------------------------------------------------------- log

    def on_job_log_cancel_requested(self, event: JobLog.CancelRequested) -> None:
        self._cancel_shown()

    def _cancel_shown(self) -> None:
        job = self._shown_job
        if job is None or job.state.is_final:
            self.notify("No running job in the log pane.", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.cancel_job(job)

        self.push_screen(
            ConfirmScreen(
                "Cancel job?",
                f"{job.job_id}: {job.command}\nIts whole process group on the instance is stopped.",
                yes="Cancel job",
            ),
            answer,
        )

    @work(thread=True, group="cancel", exit_on_error=False)
    def cancel_job(self, job: Job) -> None:
        """Stop a job on its instance."""
        try:
            canceled = self.engine.job_service.cancel(job)
        except _errors() as exc:
            self.post_message(ActionFailed("Cancel failed", str(exc)))
            return
        self.post_message(JobChanged(canceled))

    def on_action_failed(self, message: ActionFailed) -> None:
        self.notify(message.text, title=message.title, severity="error", timeout=10)
