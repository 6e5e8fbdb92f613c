"""Offers from every platform at once, merged, ranked and compared.

One platform failing never hides the other's offers: the result carries a
status per platform, and the last good offers of a failing platform stay
available, marked stale. Rate limits back off per platform; a short cache
keeps repeated refreshes from hammering an API. Given a store, every fresh answer
to an unfiltered search is added to the price history.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from vp_tui.core.models import Offer, PlatformName, PlatformStatus, utcnow
from vp_tui.core.ranking import SORTS, GpuComparison, cheapest_keys, compare_by_gpu, rank
from vp_tui.core.threads import parallel_map
from vp_tui.platforms.base import (
    OfferQuery,
    Platform,
    PlatformError,
    QuotaExceeded,
    RateLimited,
    SortKey,
)
from vp_tui.services.price_history import PriceHistory
from vp_tui.services.store import Store

__all__ = [
    "SORT_KEYS",
    "GpuComparison",
    "Market",
    "MarketResult",
    "cheapest_keys",
    "compare_by_gpu",
    "rank",
]

log = logging.getLogger(__name__)

_ALL = 100_000
"""The largest ``OfferQuery.limit``: a search for the whole market."""

SORT_KEYS: tuple[SortKey, ...] = SORTS
"""Every sort order of ``OfferQuery.sort`` (the rules live in :mod:`vp_tui.core.ranking`)."""


@dataclass
class MarketResult:
    """What a refresh found: the merged offers and how each platform answered."""

    offers: list[Offer]
    statuses: dict[PlatformName, PlatformStatus]
    fetched_at: datetime

    @property
    def failed(self) -> list[PlatformStatus]:
        """Statuses of the platforms that did not answer this time."""
        return [s for s in self.statuses.values() if not s.ok]


@dataclass
class _PlatformMemory:
    offers: list[Offer] = field(default_factory=list)
    query: OfferQuery | None = None
    fetched_at: datetime | None = None
    backoff_until: datetime | None = None
    backoff_seconds: float = 0.0
    last_error: str | None = None
    until_reset: bool = False
    """The backoff lasts until a quota resets (the error already says when)."""


class Market:
    """Asks every enabled platform for offers concurrently and merges the answers."""

    def __init__(
        self,
        platforms: Mapping[PlatformName, Platform],
        *,
        cache_seconds: float = 15.0,
        max_backoff_seconds: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
        store: Store | None = None,
    ) -> None:
        self.platforms = dict(platforms)
        self.history: PriceHistory | None = PriceHistory(store) if store is not None else None
        """Where offer prices are recorded (None: not recorded)."""
        self.cache_seconds = cache_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._clock = clock
        self._memory: dict[PlatformName, _PlatformMemory] = {
            name: _PlatformMemory() for name in self.platforms
        }
        self._lock = threading.Lock()

    def refresh(
        self,
        query: OfferQuery | None = None,
        *,
        platforms: Sequence[PlatformName] | None = None,
        force: bool = False,
    ) -> MarketResult:
        """Offers from the chosen (default: all) platforms, fetched at the same time."""
        query = query or OfferQuery()
        names = [n for n in (platforms or list(self.platforms)) if n in self.platforms]
        if not names:
            return MarketResult([], {}, self._clock())
        fetched = parallel_map(
            lambda name: self._fetch_one(name, query, force), names, name="market"
        )
        answers = dict(zip(names, fetched, strict=True))
        offers: list[Offer] = []
        statuses: dict[PlatformName, PlatformStatus] = {}
        new: list[Offer] = []
        for name in names:
            platform_offers, status, fresh = answers[name]
            offers.extend(platform_offers)
            statuses[name] = status
            if fresh:
                new.extend(platform_offers)
        if new and _whole_market(query):
            self._record(new)
        return MarketResult(rank(offers, query.sort)[: query.limit], statuses, self._clock())

    def _record(self, offers: list[Offer]) -> None:
        """Add just-fetched offers to the price history; a failure only costs the point."""
        if self.history is None:
            return
        try:
            self.history.record(offers, self._clock())
        except Exception:
            log.exception("recording offer prices failed")

    def _fetch_one(
        self, name: PlatformName, query: OfferQuery, force: bool
    ) -> tuple[list[Offer], PlatformStatus, bool]:
        """The offers of one platform, how it answered, and whether they were just fetched."""
        memory = self._memory[name]
        now = self._clock()
        with self._lock:
            fresh = (
                memory.query == query
                and memory.fetched_at is not None
                and now - memory.fetched_at < timedelta(seconds=self.cache_seconds)
            )
            if fresh and not force:
                status = PlatformStatus(platform=name, ok=True, checked_at=now)
                return list(memory.offers), status, False
            if memory.backoff_until is not None and now < memory.backoff_until:
                wait = (memory.backoff_until - now).total_seconds()
                if memory.until_reset:
                    return self._stale(name, str(memory.last_error), query)
                return self._stale(name, f"{memory.last_error} (retrying in {wait:.0f}s)", query)
        try:
            offers = self.platforms[name].list_offers(query)
        except QuotaExceeded as exc:
            # Every search until the reset only spends more of the quota: keep the last
            # offers and ask again once it is whole.
            resets = exc.resets_at.astimezone(UTC).strftime("%H:%M UTC")
            with self._lock:
                memory.backoff_until = exc.resets_at
                memory.until_reset = True
                memory.last_error = f"{exc} (searching again after {resets})"
            return self._stale(name, memory.last_error, query)
        except RateLimited as exc:
            with self._lock:
                memory.backoff_seconds = min(
                    self.max_backoff_seconds, max(2.0, memory.backoff_seconds * 2)
                )
                delay = exc.retry_after or memory.backoff_seconds
                memory.backoff_until = self._clock() + timedelta(seconds=delay)
                memory.until_reset = False
                memory.last_error = str(exc)
            return self._stale(name, f"{exc} (retrying in {delay:.0f}s)", query)
        except PlatformError as exc:
            log.warning("fetching %s offers failed: %s", name, exc)
            with self._lock:
                memory.last_error = str(exc)
            return self._stale(name, str(exc), query)
        except Exception as exc:  # an adapter bug must not take the other platform down
            log.exception("fetching %s offers failed unexpectedly", name)
            with self._lock:
                memory.last_error = f"unexpected error: {type(exc).__name__}: {exc}"
            return self._stale(name, memory.last_error, query)
        with self._lock:
            memory.offers = offers
            memory.query = query
            memory.fetched_at = self._clock()
            memory.backoff_seconds = 0.0
            memory.backoff_until = None
            memory.last_error = None
        # Read right after the call that counted them: the adapter's own counter.
        skipped = int(getattr(self.platforms[name], "skipped_offer_rows", 0) or 0)
        status = PlatformStatus(
            platform=name, ok=True, checked_at=self._clock(), skipped_rows=skipped
        )
        return list(offers), status, True

    def _stale(
        self, name: PlatformName, error: str, query: OfferQuery
    ) -> tuple[list[Offer], PlatformStatus, bool]:
        memory = self._memory[name]
        keep = memory.offers if memory.query == query else []
        status = PlatformStatus(
            platform=name,
            ok=False,
            error=error,
            stale_since=memory.fetched_at if keep else None,
            checked_at=self._clock(),
        )
        return list(keep), status, False


def _whole_market(query: OfferQuery) -> bool:
    """Whether ``query`` asks for every offer (no filter, the largest limit), so that its
    cheapest offers and counts are the market's."""
    return query == OfferQuery(limit=_ALL, sort=query.sort)
