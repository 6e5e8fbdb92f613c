"""Offer prices over time, kept in the store, bounded in size.

Each market refresh adds one point per (GPU model, platform, kind): the cheapest
$/GPU-h and the number of offers (:func:`~vp_tui.core.price_history.price_points`).

**Bound.** Points older than :data:`KEEP` (14 days) are deleted. Older than
:data:`RECENT` (one day), a series keeps one point per hour; within the last day, one
point per 5 minutes. The point kept in each slot is the cheapest (the latest among
equals), so the lowest price ever seen survives thinning. A series thus holds at
most 288 recent + 312 older points (600 rows), whatever the refresh rate. Thinning
runs on the first recording of a process and then at most every 10 minutes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from vp_tui.core.models import Offer
from vp_tui.core.price_history import PricePoint, price_points, sparkline
from vp_tui.services.store import Store

log = logging.getLogger(__name__)

KEEP = timedelta(days=14)
"""How long points are kept."""
RECENT = timedelta(days=1)
"""Points younger than this are thinned to :data:`RECENT_STEP`, older ones to :data:`OLD_STEP`."""
RECENT_STEP = timedelta(minutes=5)
"""At most one point per series in each slot this long, within :data:`RECENT`."""
OLD_STEP = timedelta(hours=1)
"""At most one point per series in each slot this long, beyond :data:`RECENT`."""
PRUNE_EVERY = timedelta(minutes=10)
"""How often recording also thins the history."""

TREND_DAYS = 7
"""The span of the offers table's trend column."""
TREND_BUCKETS = 12
"""How many bars the trend column has."""

_THIN = """DELETE FROM price_history WHERE at >= ? AND at < ? AND rowid NOT IN (
    SELECT rowid FROM (
        SELECT rowid, ROW_NUMBER() OVER (
            PARTITION BY gpu, platform, interruptible, CAST(at / ? AS INTEGER)
            ORDER BY price_per_gpu_hour, at DESC
        ) AS rank
        FROM price_history WHERE at >= ? AND at < ?
    ) WHERE rank = 1
)"""


def _epoch(when: datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class PriceHistory:
    """Records the market's cheapest prices and answers what they were."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pruned_at: datetime | None = None
        self._lock = threading.Lock()

    def record(self, offers: Iterable[Offer], at: datetime) -> int:
        """Add the points of ``offers`` at ``at`` (thinning when due); returns how many."""
        points = price_points(offers, at)
        self.add(points)
        with self._lock:
            due = self._pruned_at is None or abs(at - self._pruned_at) >= PRUNE_EVERY
            if due:
                self._pruned_at = at
        if due:
            self.prune(at)
        return len(points)

    def add(self, points: Sequence[PricePoint]) -> None:
        """Store ``points`` as they are."""
        if not points:
            return
        with self.store.connect() as db:
            db.executemany(
                "INSERT INTO price_history "
                "(gpu, platform, interruptible, at, price_per_gpu_hour, offers) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        p.gpu,
                        p.platform,
                        int(p.interruptible),
                        _epoch(p.at),
                        p.price_per_gpu_hour,
                        p.offers,
                    )
                    for p in points
                ],
            )

    def prune(self, now: datetime) -> int:
        """Apply the bound (see the module docstring); returns how many points went."""
        end = _epoch(now)
        oldest = end - KEEP.total_seconds()
        recent = end - RECENT.total_seconds()
        with self.store.connect() as db:
            gone = db.execute("DELETE FROM price_history WHERE at < ?", (oldest,)).rowcount
            for start, stop, step in (
                (oldest, recent, OLD_STEP.total_seconds()),
                (recent, end + RECENT.total_seconds(), RECENT_STEP.total_seconds()),
            ):
                gone += db.execute(_THIN, (start, stop, step, start, stop)).rowcount
        return gone

    def series(
        self, gpu: str, platform: str, interruptible: bool, since: datetime | None = None
    ) -> list[PricePoint]:
        """The points of one series, oldest first (from ``since`` on, if given)."""
        sql = (
            "SELECT at, price_per_gpu_hour, offers FROM price_history "
            "WHERE gpu = ? AND platform = ? AND interruptible = ?"
        )
        params: list[object] = [gpu, platform, int(interruptible)]
        if since is not None:
            sql += " AND at >= ?"
            params.append(_epoch(since))
        with self.store.connect() as db:
            rows = db.execute(sql + " ORDER BY at", params).fetchall()
        return [
            PricePoint(
                gpu,
                platform,
                interruptible,
                row["price_per_gpu_hour"],
                row["offers"],
                datetime.fromtimestamp(row["at"], UTC),
            )
            for row in rows
        ]

    def cheapest_by_gpu(
        self,
        now: datetime,
        *,
        days: float = TREND_DAYS,
        buckets: int = TREND_BUCKETS,
        platforms: Sequence[str] | None = None,
    ) -> dict[tuple[str, bool], list[float | None]]:
        """Per (GPU model, interruptible): the cheapest $/GPU-h in each of ``buckets``
        equal slices of the last ``days`` up to ``now`` (None where nothing was seen),
        across ``platforms`` (default all)."""
        end = _epoch(now)
        start = end - days * 86400.0
        width = (end - start) / buckets
        sql = (
            "SELECT gpu, interruptible, CAST((at - ?) / ? AS INTEGER) AS bucket, "
            "MIN(price_per_gpu_hour) AS price FROM price_history WHERE at >= ? AND at <= ?"
        )
        params: list[object] = [start, width, start, end]
        if platforms is not None:
            sql += f" AND platform IN ({', '.join('?' for _ in platforms)})"
            params.extend(platforms)
        sql += " GROUP BY gpu, interruptible, bucket"
        with self.store.connect() as db:
            rows = db.execute(sql, params).fetchall()
        found: dict[tuple[str, bool], list[float | None]] = {}
        for row in rows:
            values = found.setdefault((row["gpu"], bool(row["interruptible"])), [None] * buckets)
            slot = min(buckets - 1, max(0, int(row["bucket"])))
            current = values[slot]
            values[slot] = row["price"] if current is None else min(current, row["price"])
        return found

    def trends(
        self, now: datetime, *, platforms: Sequence[str] | None = None
    ) -> dict[tuple[str, bool], str]:
        """Sparklines of :meth:`cheapest_by_gpu` over the last week, per (GPU model, kind)."""
        series = self.cheapest_by_gpu(now, platforms=platforms)
        return {key: sparkline(values) for key, values in series.items()}
