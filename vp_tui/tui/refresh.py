"""Keeping the panes current: offers, instances and accounts fetched in workers, on a schedule.

Each fetch runs in a thread worker named after its kind and reports with one
message; the handlers (UI thread) fold the answer into ``DashboardState``
and redraw from it. A platform whose listing fails keeps its last rows,
marked stale, and the money figures say what they could not include.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from textual import work
from textual.content import Content
from textual.worker import Worker, WorkerState

from vp_tui.core.alerts import BalanceAlerts, PriceAlerts
from vp_tui.core.costs import spent_since
from vp_tui.core.fleet_state import balance_runway
from vp_tui.core.money import format_duration
from vp_tui.core.states import InstanceState
from vp_tui.services.ledger import local_midnight
from vp_tui.tui.base import user_errors
from vp_tui.tui.freshness import FreshnessMixin, offers_as_of
from vp_tui.tui.messages import AccountsLoaded, FleetLoaded, OffersLoaded, RefreshWanted
from vp_tui.tui.scheduler import RefreshScheduler
from vp_tui.tui.widgets.platforms_pane import NAMES

if TYPE_CHECKING:
    from vp_tui.core.models import Account, PlatformName
    from vp_tui.core.offer_filter import OfferIndex
    from vp_tui.core.ranking import OfferSort

log = logging.getLogger(__name__)

TRANSITIONAL = frozenset(
    {
        InstanceState.PROVISIONING,
        InstanceState.STARTING,
        InstanceState.STOPPING,
        InstanceState.TERMINATING,
    }
)
BUSY_SECONDS = 2.0
"""Instances are listed this often while one of them is changing state."""


class RefreshMixin(FreshnessMixin):
    """Offers, instances and accounts: fetched on schedule, folded into the state."""

    scheduler: RefreshScheduler
    _offers_seconds: float | None
    _instances_seconds: float | None
    _accounts_seconds: float | None

    # --------------------------------------------------------------- intervals

    def offers_interval(self) -> float:
        """Seconds between offer refreshes."""
        if self._offers_seconds is not None:
            return self._offers_seconds
        return self.context.settings.general.refresh_seconds if self.context else 300.0

    def instances_interval(self) -> float:
        """Seconds until the next instance listing: short while something is changing."""
        if self._instances_seconds is not None:
            base = self._instances_seconds
        else:
            base = self.context.settings.general.instances_seconds if self.context else 10.0
        table = self.instances_table
        busy = any(i.state in TRANSITIONAL for i in self.state.fleet.instances) or bool(
            table is not None and table.overrides
        )
        return min(BUSY_SECONDS, base) if busy else base

    def accounts_interval(self) -> float:
        """Seconds between balance refreshes."""
        if self._accounts_seconds is not None:
            return self._accounts_seconds
        return self.context.settings.general.accounts_seconds if self.context else 60.0

    def setup_scheduler(self) -> RefreshScheduler:
        """The scheduler with the three kinds of data the dashboard polls."""
        scheduler = RefreshScheduler(self)
        scheduler.add("offers", self.offers_interval, self._start_offers)
        scheduler.add("instances", self.instances_interval, lambda _forced: self.fetch_instances())
        scheduler.add("accounts", self.accounts_interval, lambda _forced: self.fetch_accounts())
        guards = getattr(self, "run_guards", None)
        if guards is not None:
            scheduler.add("guards", self.guards_interval, lambda _forced: guards())  # type: ignore[attr-defined]
        return scheduler

    def request_fetch(self, kind: str) -> None:
        """Fetch one kind of data now (never a second loop)."""
        if self.context is not None:
            self.scheduler.fetch_now(kind)

    def on_refresh_wanted(self, message: RefreshWanted) -> None:
        self.request_fetch(message.kind)

    def action_refresh_now(self) -> None:
        """Refresh offers, instances and balances now, bypassing the cache."""
        if not self.engine_up():
            return
        for kind in self.scheduler.kinds:
            self.scheduler.fetch_now(kind)
        self.notify("Refreshing…", timeout=2)

    # ------------------------------------------------------------------ offers

    def _start_offers(self, forced: bool) -> None:
        pane = self.platforms_pane
        included = pane.included if pane is not None else list(self.engine.platforms)
        table = self.offers_table
        self.fetch_offers(included, forced, table.sort_key if table is not None else None)

    @work(thread=True, group="offers", exit_on_error=False)
    def fetch_offers(
        self, platforms: list[PlatformName], force: bool = False, sort: OfferSort | None = None
    ) -> None:
        """Fetch offers from ``platforms`` (off the UI thread); the index comes with the
        order of ``sort`` (the table's) ready, so showing it does not sort on the UI thread."""
        from vp_tui.core.offer_filter import SORTS, OfferIndex
        from vp_tui.platforms.base import OfferQuery

        market = self.engine.market
        result = market.refresh(OfferQuery(limit=100_000), platforms=platforms, force=force)
        trends: dict[tuple[str, bool], str] = {}
        if market.history is not None:
            try:
                trends = market.history.trends(result.fetched_at, platforms=platforms)
            except Exception:  # the offers are still worth showing
                log.exception("reading the price history failed")
        index = OfferIndex(result.offers, sorts=(*SORTS, *([sort] if sort else [])))
        self.post_message(OffersLoaded(result, index, trends))

    def on_offers_loaded(self, message: OffersLoaded) -> None:
        table, pane = self.offers_table, self.platforms_pane
        if table is None or pane is None:
            return
        table.set_trends(message.trends)
        table.set_offers(message.index)
        counts: dict[str, int] = {}
        for offer in message.result.offers:
            counts[offer.platform] = counts.get(offer.platform, 0) + 1
        for name, status in message.result.statuses.items():
            pane.update_platform(name, status=status, offers=counts.get(name, 0))
            self.report_problem(name, "offers", status.error)
        self.check_price_alerts(message.index)
        self.state.offers_as_of = offers_as_of(message.result.statuses.values())
        self.show_freshness()
        self.offers_loaded.set()

    def check_price_alerts(self, index: OfferIndex) -> None:
        """Notify of each configured price alert that has just started matching."""
        if self.context is None:
            return
        alerts = self.state.price_alerts
        if alerts is None:
            alerts = self.state.price_alerts = PriceAlerts(self.context.settings.alerts.prices)
            for problem in alerts.errors:
                self.notify(problem, title="Price alert ignored", severity="warning", markup=False)
        for hit in alerts.check(index):
            self.notify(str(hit), title="Price alert", timeout=15, markup=False)

    # --------------------------------------------------------------- instances

    @work(thread=True, group="instances", exit_on_error=False)
    def fetch_instances(self) -> None:
        """List instances on every platform (off the UI thread)."""
        result = self.engine.fleet.list()  # also kept in the spend ledger
        snapshot = None
        ledger = self.engine.fleet.ledger
        if ledger is not None:
            try:
                snapshot = ledger.snapshot()
            except Exception:  # the listing is still worth showing
                log.exception("reading the spend ledger failed")
        self.post_message(FleetLoaded(result.instances, result.statuses, snapshot))

    def on_fleet_loaded(self, message: FleetLoaded) -> None:
        now = self.clock()
        self.state.fleet = self.state.fleet.updated(message.instances, message.statuses, now)
        if message.ledger is not None:
            self.state.ledger = message.ledger
        for name, status in message.statuses.items():
            if not status.ok:
                log.warning("listing %s instances failed: %s", name, status.error)
            self.report_problem(name, "instances", status.error)
        self.show_fleet()
        self.show_freshness()
        self.fleet_loaded.set()

    def show_fleet(self) -> None:
        """Redraw the instances table, the platform counts and the money line from the state."""
        table, pane = self.instances_table, self.platforms_pane
        if table is None or pane is None:
            return
        fleet = self.state.fleet
        now = self.clock()
        stale: dict[str, tuple[datetime, str]] = {}
        for name, listing in fleet.listings.items():
            if listing.stale and listing.listed_at is not None:
                stale[name] = (listing.listed_at, listing.error or "")
        table.ledger = self.state.ledger
        table.sync(fleet.instances, now, stale=stale)
        notes = [
            f"{name} stale {format_duration((now - since).total_seconds())}: {error}"
            for name, (since, error) in stale.items()
        ]
        for pane_widget in self.query("#instances-pane"):
            pane_widget.border_subtitle = Content("; ".join(notes))  # provider text: not markup
        for name in self.engine.platforms:
            pane.update_platform(
                name, running=fleet.running(name), listing_error=fleet.error(name), known=True
            )
        self.refresh_status()

    # ---------------------------------------------------------------- accounts

    @work(thread=True, group="accounts", exit_on_error=False)
    def fetch_accounts(self) -> None:
        """Ask every platform for its balance (off the UI thread)."""
        accounts: dict[PlatformName, Account] = {}
        errors: dict[PlatformName, str] = {}
        for name, platform in self.engine.platforms.items():
            if self.stop_event.is_set():
                return
            try:
                accounts[name] = platform.account()
            except user_errors() as exc:
                errors[name] = str(exc)
            except Exception as exc:
                log.exception("reading the %s account failed", name)
                errors[name] = f"unexpected error: {type(exc).__name__}"
        self.post_message(AccountsLoaded(accounts, errors))

    def on_accounts_loaded(self, message: AccountsLoaded) -> None:
        self.state.accounts.update(message.accounts)
        for name in message.accounts:
            self.state.account_errors.pop(name, None)
        self.state.account_errors.update(message.errors)
        pane = self.platforms_pane
        if pane is None or self.context is None:
            return
        for name, error in message.errors.items():
            log.warning("reading the %s balance failed: %s", name, error)
        for name in self.engine.platforms:
            self.report_problem(name, "accounts", message.errors.get(name))
        self.check_balances(message.accounts)
        for name in self.engine.platforms:
            pane.update_platform(
                name,
                account=self.state.accounts.get(name),
                account_error=self.state.account_errors.get(name),
            )
        self.refresh_status()  # how long the balances last

    def check_balances(self, accounts: dict[PlatformName, Account]) -> None:
        """Notify once of each balance that has just dropped below the configured threshold."""
        if self.context is None:
            return
        alerts = self.state.balance_alerts
        if alerts is None:
            below = self.context.settings.alerts.balance_below_usd
            alerts = self.state.balance_alerts = BalanceAlerts(below)
        pane = self.platforms_pane
        if pane is not None:
            pane.balance_below = alerts.below
        for account in alerts.check(accounts.values()):
            name = NAMES.get(account.platform, account.platform)
            self.notify(
                alerts.describe(account, name), title="Low balance", severity="warning", timeout=15
            )

    # ----------------------------------------------------------------- status

    def report_problem(self, platform: str, kind: str, error: str | None) -> None:
        """Notify once when a platform starts failing at ``kind`` (offers, instances,
        accounts): not on every poll, and not again for an error already on screen."""
        problems = self.state.problems
        others = {e for (p, k), e in problems.items() if p == platform and k != kind and e}
        before = problems.get((platform, kind))
        problems[(platform, kind)] = error
        if error and error != before and error not in others:
            self.notify(error, title="Platform problem", severity="error", timeout=8)

    def refresh_status(self) -> None:
        """Burn rate, spend today and instances running, saying what is unknown."""
        bar = self.status_bar
        if bar is None or self.context is None:
            return
        now = self.clock()
        fleet = self.state.fleet
        burn = fleet.burn()
        ledger = self.state.ledger
        midnight = local_midnight(now)
        month: float | None = None
        if ledger is not None:
            # What the ledger had at its last reading, plus what has burnt since.
            hours = max(0.0, (now - max(ledger.at, midnight)).total_seconds()) / 3600.0
            today = (ledger.today if ledger.at >= midnight else 0.0) + burn.per_hour * hours
            since = max(0.0, (now - ledger.at).total_seconds()) / 3600.0
            month = ledger.month + burn.per_hour * since
        else:
            today = spent_since(fleet.instances, midnight, now)
        bar.show(
            burn=burn,
            spent_today=today,
            spent_month=month,
            runway=balance_runway(self.state.accounts, fleet),
            running=fleet.running_known(),
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where worker failures become notifications, and polls re-arm."""
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.error is not None:
            error = worker.error
            log.error(
                "worker %s failed", worker.name, exc_info=(type(error), error, error.__traceback__)
            )
            self.notify(
                f"{type(error).__name__}: {error}",
                title="Something went wrong",
                severity="error",
                markup=False,
            )
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            scheduler = getattr(self, "scheduler", None)
            if scheduler is not None and worker.group in scheduler.kinds:
                scheduler.finished(worker.group)

    def tick(self) -> None:
        """Once a second: uptime, spend and the money line move with the clock."""
        if self.context is None or self.stopping:
            return
        table = self.instances_table
        if table is not None:
            table.refresh_times(self.clock())
        self.refresh_status()
        self.show_freshness()
        self.tick_job()
