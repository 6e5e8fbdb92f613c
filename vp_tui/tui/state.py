"""What the dashboard knows, changed on the UI thread only.

Workers never touch this: they post messages, and the message handlers
(running on the UI thread) update the state and then the widgets from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from vp_tui.core.fleet_state import FleetState

if TYPE_CHECKING:
    from vp_tui.core.alerts import BalanceAlerts, PriceAlerts
    from vp_tui.core.models import Account, Job, PlatformName
    from vp_tui.services.ledger import LedgerSnapshot


@dataclass
class DashboardState:
    """The dashboard's model: instances per platform, accounts, the job on show."""

    fleet: FleetState = field(default_factory=FleetState)
    offers_as_of: datetime | None = None
    """When the oldest offers shown were fetched (the offers pane title says how long ago)."""
    accounts: dict[PlatformName, Account] = field(default_factory=dict)
    account_errors: dict[PlatformName, str] = field(default_factory=dict)
    ledger: LedgerSnapshot | None = None
    """The spend ledger at the last instance listing."""
    guard_notes: set[str] = field(default_factory=set)
    """What the guards have already notified (each finding once)."""
    shown_job: Job | None = None
    log_generation: int = 0
    """Counts the times a job was put on show (chunks of an earlier showing are dropped)."""
    following: set[str] = field(default_factory=set)
    """Jobs whose output a worker is streaming now."""
    pending_focus_job: str | None = None
    """A job just started from the run dialog: the log pane takes focus once it runs."""
    problems: dict[tuple[str, str], str | None] = field(default_factory=dict)
    """The latest error per (platform, kind of data): a notification only on change."""
    price_alerts: PriceAlerts | None = None
    """The configured price alerts and which matched at the last offers refresh."""
    balance_alerts: BalanceAlerts | None = None
    """Which balances were below the configured threshold at the last reading."""
