"""Cancelling waits: every loop that sleeps or polls takes a ``stop`` event.

A face (the dashboard quitting, ``vp`` on Ctrl-C) sets the event; each wait
sleeps on it instead of ``time.sleep`` and raises ``Cancelled`` as soon as it
is set, so no thread outlives the user's wish to stop by more than one
network round-trip.
"""

from __future__ import annotations

import threading

__all__ = ["Cancelled", "StopEvent", "check", "pause"]

StopEvent = threading.Event
"""The type of a ``stop`` argument: set it to cancel the wait it was given to."""


class Cancelled(Exception):
    """A wait was cancelled through its ``stop`` event (nothing failed)."""

    def __init__(self, what: str = "cancelled") -> None:
        super().__init__(what)


def check(stop: threading.Event | None, what: str = "cancelled") -> None:
    """Raise ``Cancelled`` when ``stop`` is set."""
    if stop is not None and stop.is_set():
        raise Cancelled(what)


def pause(seconds: float, stop: threading.Event | None, what: str = "cancelled") -> None:
    """Sleep ``seconds``, or raise ``Cancelled`` as soon as ``stop`` is set."""
    if stop is None:
        threading.Event().wait(max(0.0, seconds))
        return
    if stop.wait(max(0.0, seconds)):
        raise Cancelled(what)
