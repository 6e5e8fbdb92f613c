"""SQLite store (WAL) of jobs, instances seen and price history, shared by `vp` and `vp-tui`.

Each call opens its own short-lived connection, so threads and separate
processes can use the store at the same time.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vp_tui import locations
from vp_tui.core.models import Instance, Job, JobState, utcnow

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The store cannot be used as it is on disk (e.g. written by a newer vp-tui)."""


@dataclass(frozen=True)
class Migration:
    """One step of the store's schema: applied once, in order, to reach ``version``."""

    version: int
    """The ``PRAGMA user_version`` the database has once this step is applied."""
    description: str
    statements: tuple[str, ...]
    """SQL statements, run one by one inside the migration transaction."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "jobs and instances seen",
        (
            """CREATE TABLE IF NOT EXISTS jobs (
                job_id TEXT PRIMARY KEY,
                platform TEXT NOT NULL,
                instance_id TEXT NOT NULL,
                command TEXT NOT NULL,
                workdir TEXT,
                state TEXT NOT NULL,
                exit_code INTEGER,
                created_at TEXT NOT NULL,
                started_at TEXT,
                finished_at TEXT,
                bytes_synced INTEGER NOT NULL DEFAULT 0,
                log_path TEXT,
                log_offset INTEGER NOT NULL DEFAULT 0,
                price_per_hour REAL NOT NULL DEFAULT 0,
                error TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS jobs_instance ON jobs (platform, instance_id)",
            """CREATE TABLE IF NOT EXISTS instances (
                platform TEXT NOT NULL,
                instance_id TEXT NOT NULL,
                label TEXT,
                gpu TEXT,
                price_per_hour REAL NOT NULL DEFAULT 0,
                state TEXT NOT NULL,
                first_seen TEXT NOT NULL,
                last_seen TEXT NOT NULL,
                gone_at TEXT,
                PRIMARY KEY (platform, instance_id)
            )""",
        ),
    ),
    Migration(
        2,
        "storage price and start of the current up-period of instances seen",
        (
            "ALTER TABLE instances ADD COLUMN storage_price_per_hour REAL NOT NULL DEFAULT 0",
            "ALTER TABLE instances ADD COLUMN started_at TEXT",
        ),
    ),
    Migration(
        3,
        "launches created but not yet reachable (resumed after a quit)",
        (
            """CREATE TABLE IF NOT EXISTS pending_launches (
                platform TEXT NOT NULL,
                instance_id TEXT NOT NULL,
                created_at TEXT NOT NULL,
                instance TEXT NOT NULL,
                PRIMARY KEY (platform, instance_id)
            )""",
        ),
    ),
    Migration(
        4,
        "the spend ledger: who started each instance, and its billing periods",
        (
            "ALTER TABLE instances ADD COLUMN started_by_us INTEGER NOT NULL DEFAULT 0",
            """CREATE TABLE IF NOT EXISTS billing_periods (
                platform TEXT NOT NULL,
                instance_id TEXT NOT NULL,
                since TEXT NOT NULL,
                until TEXT,
                state TEXT NOT NULL,
                rate REAL NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS billing_instance "
            "ON billing_periods (platform, instance_id, until)",
        ),
    ),
    Migration(
        5,
        "price history: the cheapest $/GPU-h per GPU model, platform and kind over time",
        (
            """CREATE TABLE IF NOT EXISTS price_history (
                gpu TEXT NOT NULL,
                platform TEXT NOT NULL,
                interruptible INTEGER NOT NULL,
                at REAL NOT NULL,
                price_per_gpu_hour REAL NOT NULL,
                offers INTEGER NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS price_history_at ON price_history (at)",
            "CREATE INDEX IF NOT EXISTS price_history_series "
            "ON price_history (gpu, platform, interruptible, at)",
        ),
    ),
    Migration(
        6,
        "input history: the last offer filters and run commands, recalled with up",
        (
            """CREATE TABLE IF NOT EXISTS input_history (
                kind TEXT NOT NULL,
                text TEXT NOT NULL,
                used_at REAL NOT NULL,
                PRIMARY KEY (kind, text)
            )""",
        ),
    ),
)
"""Every schema step, oldest first. Add new steps at the end; never change a shipped one.

Databases written before versioning have ``user_version`` 0 and the tables of step 1
(which therefore only creates what is missing)."""

SCHEMA_VERSION = MIGRATIONS[-1].version
"""The schema version this code reads and writes."""


def migrate(db: sqlite3.Connection, path: Path | str = "the store") -> int:
    """Bring ``db`` to :data:`SCHEMA_VERSION` in one transaction; returns the version found.

    Raises ``StoreError`` when the database is newer than this code. Safe to call from
    several processes at once: the version is read again under the write lock.
    """
    found = _user_version(db)
    if found == SCHEMA_VERSION:
        return found
    _check_not_newer(found, path)
    previous = db.isolation_level
    db.isolation_level = None
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            found = _user_version(db)
            _check_not_newer(found, path)
            for step in MIGRATIONS:
                if step.version <= found:
                    continue
                for statement in step.statements:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {int(step.version)}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.isolation_level = previous
    return found


def _user_version(db: sqlite3.Connection) -> int:
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _check_not_newer(found: int, path: Path | str) -> None:
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {found}, newer than this vp-tui understands "
            f"({SCHEMA_VERSION}): it was written by a newer version; upgrade vp-tui "
            "(`pip install -U vp-tui`) or point VP_DATA_DIR elsewhere"
        )


_JOB_FIELDS = tuple(Job.model_fields)


class Store:
    """Jobs and instances on disk."""

    def __init__(self, path: Path | None = None) -> None:
        """Open (creating or migrating) the store; ``StoreError`` if it cannot be used."""
        self.path = path or locations.data_dir() / "vp-tui.sqlite3"
        locations.ensure_private_dir(self.path.parent)
        try:
            db = sqlite3.connect(self.path, timeout=10)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        try:
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db, self.path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use {self.path}: {exc}") from exc
        finally:
            db.close()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction (rows by name), closed afterwards."""
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def save_job(self, job: Job) -> None:
        """Insert or replace ``job``."""
        data = job.model_dump(mode="json")
        columns = ", ".join(_JOB_FIELDS)
        marks = ", ".join("?" for _ in _JOB_FIELDS)
        with self.connect() as db:
            db.execute(
                f"INSERT OR REPLACE INTO jobs ({columns}) VALUES ({marks})",
                [data[name] for name in _JOB_FIELDS],
            )

    def update_job(self, job_id: str, **changes: Any) -> Job:
        """Change some fields of a stored job and return it."""
        job = self.job(job_id)
        if job is None:
            raise KeyError(job_id)
        updated = job.model_copy(update=changes)
        self.save_job(updated)
        return updated

    def job(self, job_id: str) -> Job | None:
        """One job by id (a unique prefix of it works too)."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT * FROM jobs WHERE job_id = ? OR job_id LIKE ? ORDER BY created_at DESC",
                (job_id, job_id.replace("%", "") + "%"),
            ).fetchall()
        exact = [r for r in rows if r["job_id"] == job_id]
        if exact:
            return _job(exact[0])
        return _job(rows[0]) if len(rows) == 1 else None

    def jobs(
        self,
        *,
        platform: str | None = None,
        instance_id: str | None = None,
        states: Sequence[JobState] | None = None,
        limit: int = 1000,
    ) -> list[Job]:
        """Jobs, newest first, optionally of one instance or in some states."""
        sql = "SELECT * FROM jobs WHERE 1=1"
        params: list[Any] = []
        if platform is not None:
            sql += " AND platform = ?"
            params.append(platform)
        if instance_id is not None:
            sql += " AND instance_id = ?"
            params.append(instance_id)
        if states:
            sql += f" AND state IN ({', '.join('?' for _ in states)})"
            params.extend(str(s) for s in states)
        sql += " ORDER BY created_at DESC LIMIT ?"
        params.append(limit)
        with self.connect() as db:
            return [_job(row) for row in db.execute(sql, params).fetchall()]

    def record_instances(self, instances: Sequence[Instance], now: datetime | None = None) -> None:
        """Remember instances seen (for receipts and for spotting forgotten ones)."""
        when = now or utcnow()
        with self.connect() as db:
            for instance in instances:
                upsert_instance(db, instance, when)

    def mark_gone(self, platform: str, instance_id: str, now: datetime | None = None) -> None:
        """Record that an instance was verified destroyed."""
        with self.connect() as db:
            db.execute(
                "UPDATE instances SET gone_at = ?, state = 'terminated' "
                "WHERE platform = ? AND instance_id = ?",
                ((now or utcnow()).isoformat(), platform, instance_id),
            )

    def add_pending_launch(self, instance: Instance, now: datetime | None = None) -> None:
        """Remember a launch the platform created and that is not reachable yet."""
        with self.connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO pending_launches "
                "(platform, instance_id, created_at, instance) VALUES (?, ?, ?, ?)",
                (
                    instance.platform,
                    instance.instance_id,
                    (now or utcnow()).isoformat(),
                    instance.model_dump_json(),
                ),
            )

    def remove_pending_launch(self, platform: str, instance_id: str) -> None:
        """Forget a launch: it is reachable, failed, or was destroyed."""
        with self.connect() as db:
            db.execute(
                "DELETE FROM pending_launches WHERE platform = ? AND instance_id = ?",
                (platform, instance_id),
            )

    def pending_launches(self) -> list[Instance]:
        """Launches still waiting to be reachable, oldest first, as last seen."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT instance FROM pending_launches ORDER BY created_at"
            ).fetchall()
        found = []
        for row in rows:
            try:
                found.append(Instance.model_validate_json(row["instance"]))
            except ValueError as exc:  # another version wrote it: the listing still shows it
                log.warning("a pending launch in the store could not be read: %s", exc)
        return found


def upsert_instance(
    db: sqlite3.Connection, instance: Instance, now: datetime, *, started_by_us: bool = False
) -> None:
    """Write what a listing (or a launch) says of ``instance`` into its ``instances`` row.

    Besides the compute price, the row keeps the storage price and the start time the
    platform last reported (or that its uptime implies); ``first_seen`` stays as first
    written, and once vp-tui has started an instance it stays marked as ours.
    """
    stamp = now.isoformat()
    started = _started_at(instance)
    db.execute(
        """INSERT INTO instances
           (platform, instance_id, label, gpu, price_per_hour, state, first_seen,
            last_seen, storage_price_per_hour, started_at, started_by_us)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (platform, instance_id) DO UPDATE SET
           label = excluded.label, gpu = excluded.gpu,
           price_per_hour = excluded.price_per_hour, state = excluded.state,
           last_seen = excluded.last_seen, gone_at = NULL,
           storage_price_per_hour = excluded.storage_price_per_hour,
           started_at = excluded.started_at,
           started_by_us = MAX(started_by_us, excluded.started_by_us)""",
        (
            instance.platform,
            instance.instance_id,
            instance.label,
            instance.gpu or instance.gpu_raw,
            instance.price_per_hour,
            str(instance.state),
            stamp,
            stamp,
            instance.storage_price_per_hour,
            started.isoformat() if started is not None else None,
            int(started_by_us),
        ),
    )


def _started_at(instance: Instance) -> datetime | None:
    """When the platform says the instance started, or what its reported uptime implies."""
    if instance.started_at is not None:
        return instance.started_at
    if instance.uptime_seconds is None or not instance.state.is_billing_compute:
        return None
    began = instance.observed_at - timedelta(seconds=instance.uptime_seconds)
    return (began + timedelta(milliseconds=500)).replace(microsecond=0)  # to the nearest second


def _job(row: sqlite3.Row) -> Job:
    return Job.model_validate({name: row[name] for name in _JOB_FIELDS})
