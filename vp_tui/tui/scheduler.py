"""The refresh scheduler: one poll per kind of data, re-armed after each fetch.

Each kind (offers, instances, accounts) has at most one fetch in flight and at
most one timer armed. A timer is set only when a fetch has finished, so
fetches never overlap and a slow API slows its own poll rather than piling
them up. "Fetch now" (``R``) cancels the armed timer and fetches at once; if
a fetch is already running it asks for one more right after it, never for a
second loop. While a dialog is open, a due poll waits a second and looks again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from textual.timer import Timer

from vp_tui.tui.base import DashboardBase

log = logging.getLogger(__name__)

Interval = Callable[[], float]
"""Seconds until the next poll of a kind (asked each time, so it can depend on state)."""
Fetch = Callable[[bool], object]
"""Starts a fetch worker of a kind; the argument is True for a user's "fetch now"."""


@dataclass
class _Poll:
    kind: str
    interval: Interval
    fetch: Fetch
    timer: Timer | None = None
    in_flight: bool = False
    again: bool = False
    """A "fetch now" came while a fetch ran: fetch once more when it ends."""
    again_forced: bool = False
    started: int = 0
    """Fetches started so far (for tests and the status of the scheduler)."""


class RefreshScheduler:
    """Polls each kind of data on its own interval for one app (see the module docstring)."""

    def __init__(self, app: DashboardBase, *, modal_retry: float = 1.0) -> None:
        self.app = app
        self.modal_retry = modal_retry
        self._polls: dict[str, _Poll] = {}
        self._stopped = False

    def add(self, kind: str, interval: Interval, fetch: Fetch) -> None:
        """Register a kind of data and how to fetch it."""
        self._polls[kind] = _Poll(kind, interval, fetch)

    @property
    def kinds(self) -> list[str]:
        """The kinds registered."""
        return list(self._polls)

    def started(self, kind: str) -> int:
        """How many fetches of ``kind`` have started."""
        return self._polls[kind].started

    def armed(self, kind: str) -> bool:
        """True when a timer for ``kind`` is waiting."""
        return self._polls[kind].timer is not None

    def in_flight(self, kind: str) -> bool:
        """True while a fetch of ``kind`` runs."""
        return self._polls[kind].in_flight

    def start(self) -> None:
        """Fetch every kind once, now; each re-arms itself from then on."""
        for kind in self._polls:
            self.fetch_now(kind, forced=False)

    def fetch_now(self, kind: str, *, forced: bool = True) -> None:
        """Fetch ``kind`` now (or right after the fetch in flight); never a new loop."""
        poll = self._polls.get(kind)
        if poll is None or self._stopped:
            return
        if poll.in_flight:
            poll.again = True
            poll.again_forced = poll.again_forced or forced
            return
        self._cancel_timer(poll)
        poll.in_flight = True
        poll.started += 1
        try:
            poll.fetch(forced)
        except Exception:
            poll.in_flight = False
            log.exception("starting a %s fetch failed", kind)
            self._arm(poll)

    def finished(self, kind: str) -> None:
        """A fetch of ``kind`` ended (in any way): fetch again if asked, else arm the timer."""
        poll = self._polls.get(kind)
        if poll is None:
            return
        poll.in_flight = False
        if self._stopped:
            return
        if poll.again:
            forced = poll.again_forced
            poll.again = poll.again_forced = False
            self.fetch_now(kind, forced=forced)
            return
        self._arm(poll)

    def stop(self) -> None:
        """Stop polling for good (the app is quitting)."""
        self._stopped = True
        for poll in self._polls.values():
            self._cancel_timer(poll)

    def _arm(self, poll: _Poll, delay: float | None = None) -> None:
        if self._stopped or not self.app.live_updates:
            return
        self._cancel_timer(poll)
        seconds = poll.interval() if delay is None else delay
        poll.timer = self.app.set_timer(seconds, lambda: self._due(poll.kind))

    def _due(self, kind: str) -> None:
        poll = self._polls[kind]
        poll.timer = None
        if self._stopped or self.app.stopping:
            return
        if self.app.modal_open():
            self._arm(poll, self.modal_retry)
            return
        self.fetch_now(kind, forced=False)

    @staticmethod
    def _cancel_timer(poll: _Poll) -> None:
        if poll.timer is not None:
            poll.timer.stop()
            poll.timer = None
