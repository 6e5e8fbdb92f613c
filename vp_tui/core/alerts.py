"""Alerts that speak once: a price filter that starts matching, a balance that drops low.

Both keep what they said last, so a condition that holds on every poll is reported
when it begins, and again only after it has ended and begun anew.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vp_tui.core.models import Account, Offer
from vp_tui.core.money import format_money, format_price
from vp_tui.core.offer_filter import OfferFilter, OfferIndex, parse_filter, unknown_tokens

__all__ = [
    "BadFilter",
    "BalanceAlerts",
    "PriceAlert",
    "PriceAlerts",
    "PriceHit",
    "parse_strict",
]


class BadFilter(ValueError):
    """A filter line with tokens the filter language does not understand."""


def parse_strict(text: str) -> OfferFilter:
    """The filter ``text`` means; ``BadFilter`` when a token is not understood or it is empty."""
    unknown = unknown_tokens(text)
    if unknown:
        words = ", ".join(f"`{token}`" for token in unknown)
        raise BadFilter(f"filter `{text.strip()}`: not understood: {words}")
    flt = parse_filter(text)
    if flt.is_empty:
        raise BadFilter(f"filter `{text.strip()}` is empty: it would match every offer")
    return flt


@dataclass(frozen=True, slots=True)
class PriceAlert:
    """One configured price alert."""

    text: str
    """The filter line as configured."""
    filter: OfferFilter


@dataclass(frozen=True, slots=True)
class PriceHit:
    """A price alert that has just started matching, with its cheapest matching offer."""

    alert: PriceAlert
    offer: Offer
    matches: int
    """How many offers match."""

    def __str__(self) -> str:
        offer = self.offer
        return (
            f"{self.alert.text}: {offer.label} on {offer.platform} "
            f"at {format_price(offer.price_per_hour, 2)}/h"
        )


class PriceAlerts:
    """Configured price alerts and which of them matched at the last check."""

    def __init__(self, texts: Sequence[str]) -> None:
        """Parse ``texts``; the ones not understood are kept in :attr:`errors`."""
        self.alerts: list[PriceAlert] = []
        self.errors: list[str] = []
        """Why some alerts cannot be checked (one line each)."""
        for text in texts:
            try:
                self.alerts.append(PriceAlert(text.strip(), parse_strict(text)))
            except BadFilter as exc:
                self.errors.append(str(exc))
        self._matching: set[str] = set()

    def check(self, index: OfferIndex) -> list[PriceHit]:
        """The alerts that match offers of ``index`` now and matched none at the last check."""
        hits: list[PriceHit] = []
        matching: set[str] = set()
        for alert in self.alerts:
            rows = index.select(alert.filter, "price")
            if not rows:
                continue
            matching.add(alert.text)
            if alert.text not in self._matching:
                hits.append(PriceHit(alert, index.offers[rows[0]], len(rows)))
        self._matching = matching
        return hits


class BalanceAlerts:
    """Accounts whose balance is below a threshold, each reported once per drop."""

    def __init__(self, below: float | None) -> None:
        self.below = below
        """The threshold in dollars (None: never alert)."""
        self._low: set[str] = set()

    def is_low(self, account: Account | None) -> bool:
        """Whether ``account``'s known balance is below the threshold."""
        return (
            self.below is not None
            and account is not None
            and account.balance is not None
            and account.balance < self.below
        )

    def check(self, accounts: Iterable[Account]) -> list[Account]:
        """The accounts that are low now and were not at the last check.

        An account whose balance is unknown this time keeps its earlier state.
        """
        dropped: list[Account] = []
        for account in accounts:
            if account.balance is None:
                continue
            if self.is_low(account):
                if account.platform not in self._low:
                    self._low.add(account.platform)
                    dropped.append(account)
            else:
                self._low.discard(account.platform)
        return dropped

    def describe(self, account: Account, name: str | None = None) -> str:
        """One line saying which balance is low."""
        return (
            f"{name or account.platform} balance {format_money(account.balance)} "
            f"is below {format_money(self.below)}"
        )
