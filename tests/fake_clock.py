"""A clock a test moves by hand, for demo clouds whose time must stand still."""

from __future__ import annotations


class FakeClock:
    """Epoch seconds that change only when the test says so."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self.now += seconds
