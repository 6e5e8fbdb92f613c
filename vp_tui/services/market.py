"""Offers from every platform at once, merged, ranked and compared.

One platform failing never hides the other's offers: the result carries a
status per platform, and the last good offers of a failing platform stay
available, marked stale. Rate limits back off per platform; a short cache
keeps repeated refreshes from hammering an API.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vp_tui.core.models import Offer, PlatformName, PlatformStatus, utcnow
from vp_tui.platforms.base import (
    OfferQuery,
    Platform,
    PlatformError,
    RateLimited,
    SortKey,
)

SORT_KEYS: tuple[SortKey, ...] = ("price", "value", "vram", "reliability")


def _sort_key(sort: SortKey) -> Callable[[Offer], tuple[float, ...]]:
    def price(o: Offer) -> tuple[float, ...]:
        return (o.price_per_hour, o.gpu_count)

    def value(o: Offer) -> tuple[float, ...]:
        v = o.dollars_per_tflop_hour
        return (math.inf if v is None else v, o.price_per_hour)

    def vram(o: Offer) -> tuple[float, ...]:
        return (-(o.vram_gb * o.gpu_count), o.price_per_hour)

    def reliability(o: Offer) -> tuple[float, ...]:
        r = o.reliability
        return (-(r if r is not None else -1.0), o.price_per_hour)

    return {"price": price, "value": value, "vram": vram, "reliability": reliability}[sort]


def rank(offers: Iterable[Offer], sort: SortKey = "price") -> list[Offer]:
    """Offers in the order a person choosing one wants: cheapest, best value, ..."""
    return sorted(offers, key=_sort_key(sort))


@dataclass(frozen=True)
class GpuComparison:
    """The cheapest offer of one GPU model on each platform."""

    gpu: str
    best: dict[PlatformName, Offer]
    """Platform -> its cheapest offer per GPU-hour for this model."""

    def per_gpu_price(self, platform: PlatformName) -> float | None:
        """$/h for one GPU of the model on ``platform``."""
        offer = self.best.get(platform)
        return None if offer is None else offer.price_per_hour / offer.gpu_count

    @property
    def cheapest_platform(self) -> PlatformName | None:
        """Where the model is cheapest per GPU-hour."""
        priced: list[tuple[float, PlatformName]] = []
        for platform in self.best:
            price = self.per_gpu_price(platform)
            if price is not None:
                priced.append((price, platform))
        return min(priced)[1] if priced else None

    @property
    def difference(self) -> float | None:
        """RunPod minus Vast, $/GPU-hour, when both have the model."""
        vast, runpod = self.per_gpu_price("vast"), self.per_gpu_price("runpod")
        return None if vast is None or runpod is None else runpod - vast


def compare_by_gpu(
    offers: Iterable[Offer], *, interruptible: bool | None = False
) -> list[GpuComparison]:
    """Cheapest offer per canonical GPU on each platform, cheapest model first.

    Like is compared with like: on-demand offers only by default, spot/bid
    offers only with ``interruptible=True``, both with None.
    """
    best: dict[str, dict[PlatformName, Offer]] = {}
    for offer in offers:
        if offer.gpu is None:
            continue
        if interruptible is not None and offer.interruptible != interruptible:
            continue
        per_platform = best.setdefault(offer.gpu, {})
        current = per_platform.get(offer.platform)
        if current is None or (
            offer.price_per_hour / offer.gpu_count < current.price_per_hour / current.gpu_count
        ):
            per_platform[offer.platform] = offer
    rows = [GpuComparison(gpu, per) for gpu, per in best.items()]

    def cheapest(row: GpuComparison) -> float:
        prices = [row.per_gpu_price(p) for p in row.best]
        return min(p for p in prices if p is not None)

    return sorted(rows, key=cheapest)


def cheapest_keys(offers: Iterable[Offer]) -> set[str]:
    """Keys of the offers that are the cheapest per GPU-hour for their GPU model."""
    best: dict[str, Offer] = {}
    for offer in offers:
        if offer.gpu is None:
            continue
        current = best.get(offer.gpu)
        if current is None or (
            offer.price_per_hour / offer.gpu_count < current.price_per_hour / current.gpu_count
        ):
            best[offer.gpu] = offer
    return {offer.key for offer in best.values()}


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


class Market:
    """Asks every enabled platform for offers concurrently and merges the answers."""

    def __init__(
        self,
        platforms: Mapping[PlatformName, Platform],
        *,
        cache_seconds: float = 15.0,
        max_backoff_seconds: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.platforms = dict(platforms)
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
        with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="market") as pool:
            futures = {name: pool.submit(self._fetch_one, name, query, force) for name in names}
            answers = {name: future.result() for name, future in futures.items()}
        offers: list[Offer] = []
        statuses: dict[PlatformName, PlatformStatus] = {}
        for name in names:
            platform_offers, status = answers[name]
            offers.extend(platform_offers)
            statuses[name] = status
        return MarketResult(rank(offers, query.sort)[: query.limit], statuses, self._clock())

    def _fetch_one(
        self, name: PlatformName, query: OfferQuery, force: bool
    ) -> tuple[list[Offer], PlatformStatus]:
        memory = self._memory[name]
        now = self._clock()
        with self._lock:
            fresh = (
                memory.query == query
                and memory.fetched_at is not None
                and now - memory.fetched_at < timedelta(seconds=self.cache_seconds)
            )
            if fresh and not force:
                return list(memory.offers), PlatformStatus(platform=name, ok=True, checked_at=now)
            if memory.backoff_until is not None and now < memory.backoff_until:
                wait = (memory.backoff_until - now).total_seconds()
                return self._stale(name, f"{memory.last_error} (retrying in {wait:.0f}s)", query)
        try:
            offers = self.platforms[name].list_offers(query)
        except RateLimited as exc:
            with self._lock:
                memory.backoff_seconds = min(
                    self.max_backoff_seconds, max(2.0, memory.backoff_seconds * 2)
                )
                delay = exc.retry_after or memory.backoff_seconds
                memory.backoff_until = self._clock() + timedelta(seconds=delay)
                memory.last_error = str(exc)
            return self._stale(name, f"{exc} (retrying in {delay:.0f}s)", query)
        except PlatformError as exc:
            with self._lock:
                memory.last_error = str(exc)
            return self._stale(name, str(exc), query)
        except Exception as exc:  # an adapter bug must not take the other platform down
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
        return list(offers), PlatformStatus(platform=name, ok=True, checked_at=self._clock())

    def _stale(
        self, name: PlatformName, error: str, query: OfferQuery
    ) -> tuple[list[Offer], PlatformStatus]:
        memory = self._memory[name]
        keep = memory.offers if memory.query == query else []
        status = PlatformStatus(
            platform=name,
            ok=False,
            error=error,
            stale_since=memory.fetched_at if keep else None,
            checked_at=self._clock(),
        )
        return list(keep), status
