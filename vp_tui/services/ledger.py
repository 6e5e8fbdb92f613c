"""The spend ledger: every instance vp-tui has seen, and what it billed, period by period.

A platform tells what an instance costs *now*; what it cost is history only
vp-tui can keep. The ledger keeps, per instance, billing periods: from when it
entered a state (running, stopped...) at a rate (compute, or storage while
stopped) until it left it. Periods open and close as vp-tui sees them:

- when vp-tui launches an instance (``started_by_us``), from that moment;
- each time a listing shows an instance in another state or at another rate;
- when vp-tui verifies a stop, a start or a destroy;
- when a platform's listing *succeeds* without an instance it had: gone.

A failed listing changes nothing: an instance is never ended because its
platform did not answer. Instances created elsewhere (a web console, other
tools) are recorded from the first time they are seen and marked as such.
Spend is the sum of rate x time of the periods, so destroyed instances keep
theirs, and totals for today, this month or since any date come from it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from vp_tui.core.costs import hourly_rate, spent_so_far
from vp_tui.core.models import Instance, InstanceState, PlatformName, utcnow
from vp_tui.core.money import cost
from vp_tui.services.store import Store, upsert_instance

__all__ = [
    "Ledger",
    "LedgerRow",
    "LedgerSnapshot",
    "Totals",
    "instance_flags",
    "local_midnight",
    "month_start",
    "spent_of",
]


@dataclass(frozen=True)
class LedgerRow:
    """One instance in the ledger and what it billed in a window."""

    platform: PlatformName
    instance_id: str
    gpu: str | None
    label: str | None
    started_at: datetime
    """When vp-tui launched it, or first saw it."""
    ended_at: datetime | None
    """When it was seen gone (None while it exists)."""
    state: str
    spent: float
    """Dollars billed inside the window asked for."""
    rate: float
    """$/h it bills now (0 once ended)."""
    started_by_us: bool


@dataclass(frozen=True)
class Totals:
    """Spend over the usual windows, in all and per platform."""

    today: float
    month: float
    since: float
    per_platform: dict[str, dict[str, float]]
    """``{"vast": {"today": ..., "month": ..., "since": ...}, ...}``."""


@dataclass(frozen=True)
class LedgerSnapshot:
    """The ledger's figures at one moment, for a face to show and extrapolate from."""

    at: datetime
    today: float
    month: float
    spent: dict[str, float]
    """What each instance (by key, ``platform:id``) billed since vp-tui first saw it."""
    ours: dict[str, bool]
    """Whether vp-tui launched each instance (by key)."""


def local_midnight(now: datetime) -> datetime:
    """The start of ``now``'s day in the local time zone (as an aware datetime)."""
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    """The start of ``now``'s month in the local time zone."""
    return local_midnight(now).replace(day=1)


def _iso(when: datetime) -> str:
    return when.isoformat()


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Ledger:
    """Billing periods of every instance seen, in the store's database."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ recording

    def record_launch(self, instance: Instance) -> None:
        """vp-tui has just rented ``instance``: it bills from now, and it is ours."""
        now = self.clock()
        with self._lock, self.store.connect() as db:
            upsert_instance(db, instance, now, started_by_us=True)
            self._enter(db, instance, now)

    def observe(self, instances: Sequence[Instance], listed: Iterable[PlatformName] = ()) -> None:
        """What a listing showed: periods follow each instance's state and rate.

        ``listed`` names the platforms whose listing succeeded and was complete:
        their instances that are missing from ``instances`` have ended. A platform
        not named (its listing failed) ends nothing.
        """
        now = self.clock()
        seen = {(i.platform, i.instance_id) for i in instances}
        complete = set(listed)
        with self._lock, self.store.connect() as db:
            for instance in instances:
                if instance.state.is_gone:
                    self._end(db, instance.platform, instance.instance_id, now)
                    continue
                upsert_instance(db, instance, now)
                self._enter(db, instance, now)
            for platform, instance_id in self._open(db):
                if platform in complete and (platform, instance_id) not in seen:
                    self._end(db, platform, instance_id, now)

    def record_seen(self, instance: Instance) -> None:
        """One instance as a verified stop or start left it."""
        self.observe([instance])

    def record_gone(self, platform: PlatformName, instance_id: str) -> None:
        """A destroy was verified: the instance bills nothing from now."""
        now = self.clock()
        with self._lock, self.store.connect() as db:
            self._end(db, platform, instance_id, now)

    @staticmethod
    def _enter(db: sqlite3.Connection, instance: Instance, now: datetime) -> None:
        """Open a period for the instance's state and rate unless the open one matches."""
        state, rate = str(instance.state), hourly_rate(instance)
        row = db.execute(
            "SELECT rowid, state, rate FROM billing_periods "
            "WHERE platform = ? AND instance_id = ? AND until IS NULL",
            (instance.platform, instance.instance_id),
        ).fetchone()
        if row is not None:
            if row["state"] == state and abs(row["rate"] - rate) < 1e-9:
                return
            db.execute(
                "UPDATE billing_periods SET until = ? WHERE rowid = ?", (_iso(now), row["rowid"])
            )
        db.execute(
            "INSERT INTO billing_periods (platform, instance_id, since, until, state, rate) "
            "VALUES (?, ?, ?, NULL, ?, ?)",
            (instance.platform, instance.instance_id, _iso(now), state, rate),
        )

    @staticmethod
    def _end(db: sqlite3.Connection, platform: str, instance_id: str, now: datetime) -> None:
        stamp = _iso(now)
        db.execute(
            "UPDATE billing_periods SET until = ? "
            "WHERE platform = ? AND instance_id = ? AND until IS NULL",
            (stamp, platform, instance_id),
        )
        db.execute(
            "UPDATE instances SET gone_at = COALESCE(gone_at, ?), state = 'terminated' "
            "WHERE platform = ? AND instance_id = ?",
            (stamp, platform, instance_id),
        )

    @staticmethod
    def _open(db: sqlite3.Connection) -> list[tuple[str, str]]:
        return [
            (row["platform"], row["instance_id"])
            for row in db.execute(
                "SELECT DISTINCT platform, instance_id FROM billing_periods WHERE until IS NULL"
            )
        ]

    # ------------------------------------------------------------------ reading

    def spent(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        platform: str | None = None,
    ) -> float:
        """Dollars billed between ``since`` (default: ever) and ``until`` (default: now)."""
        until = until or self.clock()
        return sum(
            (r.spent for r in self.rows(since, until) if platform in (None, r.platform)), 0.0
        )

    def rows(self, since: datetime | None = None, until: datetime | None = None) -> list[LedgerRow]:
        """Every instance that existed in the window, with what it billed in it, oldest first."""
        return _window(self._read(), since, until or self.clock())

    def _read(self) -> _History:
        """Every instance and its billing periods, in one read of the store."""
        with self.store.connect() as db:
            instances = db.execute(
                "SELECT platform, instance_id, gpu, label, state, first_seen, gone_at, "
                "started_by_us FROM instances"
            ).fetchall()
            periods: dict[tuple[str, str], list[sqlite3.Row]] = {}
            for row in db.execute("SELECT * FROM billing_periods ORDER BY since"):
                periods.setdefault((row["platform"], row["instance_id"]), []).append(row)
        return instances, periods

    def totals(self, since: datetime | None = None, now: datetime | None = None) -> Totals:
        """Spend today, this month and since ``since`` (default: the month), per platform."""
        now = now or self.clock()
        windows = {
            "today": local_midnight(now),
            "month": month_start(now),
            "since": since or month_start(now),
        }
        history = self._read()
        per_platform: dict[str, dict[str, float]] = {}
        overall: dict[str, float] = {}
        for name, start in windows.items():
            rows = _window(history, start, now)
            overall[name] = sum((r.spent for r in rows), 0.0)
            for r in rows:
                per_platform.setdefault(r.platform, dict.fromkeys(windows, 0.0))[name] += r.spent
        return Totals(
            today=overall["today"],
            month=overall["month"],
            since=overall["since"],
            per_platform=per_platform,
        )

    def snapshot(self) -> LedgerSnapshot:
        """Today's and the month's spend and each instance's, as of now."""
        now = self.clock()
        history = self._read()
        keyed = {f"{r.platform}:{r.instance_id}": r for r in _window(history, None, now)}
        return LedgerSnapshot(
            at=now,
            today=sum((r.spent for r in _window(history, local_midnight(now), now)), 0.0),
            month=sum((r.spent for r in _window(history, month_start(now), now)), 0.0),
            spent={key: r.spent for key, r in keyed.items()},
            ours={key: r.started_by_us for key, r in keyed.items()},
        )

    def started_by_us(self, platform: str, instance_id: str) -> bool | None:
        """Whether vp-tui launched the instance; None when the ledger has never seen it."""
        with self.store.connect() as db:
            row = db.execute(
                "SELECT started_by_us FROM instances WHERE platform = ? AND instance_id = ?",
                (platform, instance_id),
            ).fetchone()
        return None if row is None else bool(row["started_by_us"])


_History = tuple[list[sqlite3.Row], dict[tuple[str, str], list[sqlite3.Row]]]
"""The ledger as read from the store: instance rows, and their periods by instance."""


def _window(history: _History, since: datetime | None, until: datetime) -> list[LedgerRow]:
    """The instances of ``history`` that existed between ``since`` and ``until``, with what
    each billed in that window, oldest first."""
    instances, periods = history
    start = since or datetime.min.replace(tzinfo=until.tzinfo)
    found = []
    for row in instances:
        key = (row["platform"], row["instance_id"])
        own = periods.get(key, [])
        if not own:
            continue  # seen before the ledger was kept: nothing known to add up
        began = _when(own[0]["since"]) or _when(row["first_seen"])
        ended = _when(row["gone_at"])
        assert began is not None
        if began >= until or (ended is not None and ended < start):
            continue
        spent = 0.0
        rate = 0.0
        for period in own:
            p_since = _when(period["since"])
            p_until = _when(period["until"]) or until
            assert p_since is not None
            overlap = (min(p_until, until) - max(p_since, start)).total_seconds()
            if overlap > 0:
                spent += cost(period["rate"], overlap)
            if period["until"] is None:
                rate = period["rate"]
        found.append(
            LedgerRow(
                platform=row["platform"],
                instance_id=row["instance_id"],
                gpu=row["gpu"],
                label=row["label"],
                started_at=began,
                ended_at=ended,
                state=row["state"],
                spent=spent,
                rate=rate if ended is None else 0.0,
                started_by_us=bool(row["started_by_us"]),
            )
        )
    found.sort(key=lambda r: (r.started_at, r.platform, r.instance_id))
    return found


NOT_OURS = "not started by vp-tui"
STORAGE_ONLY = "stopped, billing storage"


def instance_flags(instance: Instance, snapshot: LedgerSnapshot | None) -> list[str]:
    """What to point out about an instance a user may have forgotten: one vp-tui did not
    start (made in a web console or another tool), or a stopped one still billing storage."""
    flags = []
    if snapshot is not None and snapshot.ours.get(instance.key) is False:
        flags.append(NOT_OURS)
    if instance.state is InstanceState.STOPPED and hourly_rate(instance) > 0:
        flags.append(STORAGE_ONLY)
    return flags


def spent_of(instance: Instance, snapshot: LedgerSnapshot | None, now: datetime) -> float | None:
    """What ``instance`` has billed since vp-tui first saw it (the ledger's figure carried
    forward at its rate now), else the estimate for its current up-period."""
    if snapshot is not None and instance.key in snapshot.spent:
        hours = max(0.0, (now - snapshot.at).total_seconds()) / 3600.0
        return snapshot.spent[instance.key] + hourly_rate(instance) * hours
    return spent_so_far(instance, now)
