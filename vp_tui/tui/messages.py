"""App-wide messages: workers report back with these, widgets never touch I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from vp_tui.bootstrap import Context
    from vp_tui.core.models import Account, Instance, Job, PlatformName, PlatformStatus
    from vp_tui.core.offer_filter import OfferIndex
    from vp_tui.services.guards import GuardReport
    from vp_tui.services.ledger import LedgerSnapshot
    from vp_tui.services.market import MarketResult


@dataclass
class OffersLoaded(Message):
    """A market refresh finished (some platforms may have failed)."""

    result: MarketResult
    index: OfferIndex
    trends: dict[tuple[str, bool], str] = field(default_factory=dict)
    """Sparklines of the cheapest $/GPU-h over the last week, per (GPU model, interruptible)."""


@dataclass
class FleetLoaded(Message):
    """Instances of every platform as just listed (a failed platform has an error status)."""

    instances: list[Instance]
    statuses: dict[PlatformName, PlatformStatus]
    ledger: LedgerSnapshot | None = None
    """What the spend ledger said right after the listing (None if it could not be read)."""


@dataclass
class AccountsLoaded(Message):
    """Balances of the platforms that answered, and why the others did not."""

    accounts: dict[PlatformName, Account]
    errors: dict[PlatformName, str]


@dataclass
class LogChunk(Message):
    """Text appended to the shown job's local log (read off the UI thread)."""

    job_id: str
    generation: int
    """Which showing of the job this belongs to (a job shown again starts over)."""
    text: str


@dataclass
class SessionRestored(Message):
    """What an earlier session left running: jobs to re-attach, launches still booting."""

    jobs: list[Job]
    launches: list[Instance]


@dataclass
class InstanceProgress(Message):
    """A launch moved on (provisioning -> starting -> running -> reachable)."""

    instance: Instance
    text: str


@dataclass
class InstanceReady(Message):
    """A launched instance accepts SSH connections."""

    instance: Instance


@dataclass
class DestroyFinished(Message):
    """A destroy ended: verified gone, or an error the user must see."""

    key: str
    error: str | None
    announce: bool = True
    """Say so in a notification of its own (a bulk destroy sums up once instead)."""


@dataclass
class DestroyStarted(Message):
    """A destroy was requested (after its pull, when one came first): the row shows it."""

    key: str


@dataclass
class BulkDestroyFinished(Message):
    """Every destroy of a bulk teardown ended: which were verified gone, which failed."""

    gone: list[str]
    failed: dict[str, str]
    """Instance key -> why it is not verified gone."""


@dataclass
class FilesChecked(Message):
    """What the destroy dialog's look at an instance's files found (or why it could not)."""

    dialog: int
    """Which dialog asked (``id`` of the screen)."""
    key: str
    text: str


@dataclass
class JobChanged(Message):
    """A job's state changed (started, syncing, running, finished...)."""

    job: Job
    focus: bool = False
    """Just started from the run dialog: show it and focus the log once it runs."""
    ended: bool = False
    """Its output has been followed to the end: say how it went."""


@dataclass
class ActionFailed(Message):
    """An action could not be done; ``text`` is for the user (never a traceback)."""

    title: str
    text: str


@dataclass
class ShellReady(Message):
    """The argv of a system ssh into an instance, to run with the app suspended."""

    argv: list[str]


@dataclass
class EngineReady(Message):
    """Settings loaded, platforms wired, demo cloud started: the dashboard can fill in."""

    context: Context


@dataclass
class EngineFailed(Message):
    """The engine could not start (a bad config file, say); the app exits with this."""

    text: str


@dataclass
class GuardsChecked(Message):
    """The guards ran once: what they found and did."""

    report: GuardReport


@dataclass
class RefreshWanted(Message):
    """A worker changed something: fetch this kind of data now."""

    kind: str
