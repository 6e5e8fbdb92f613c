"""App-wide messages: workers report back with these, widgets never touch I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from vp_tui.bootstrap import Context
    from vp_tui.core.models import Account, Instance, Job, PlatformName, PlatformStatus
    from vp_tui.core.offer_filter import OfferIndex
    from vp_tui.services.market import MarketResult


@dataclass
class OffersLoaded(Message):
    """A market refresh finished (some platforms may have failed)."""

    result: MarketResult
    index: OfferIndex


@dataclass
class FleetLoaded(Message):
    """Instances and accounts of every platform, as just listed."""

    instances: list[Instance]
    statuses: dict[PlatformName, PlatformStatus]
    accounts: dict[PlatformName, Account]


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


@dataclass
class JobChanged(Message):
    """A job's state changed (started, syncing, running, finished...)."""

    job: Job


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
