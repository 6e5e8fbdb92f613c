"""SQLite store (WAL) of jobs and instances seen, shared by `vp` and `vp-tui`.

Each call opens its own short-lived connection, so threads and separate
processes can use the store at the same time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from vp_tui import locations
from vp_tui.core.models import Instance, Job, JobState, utcnow

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
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
);
CREATE INDEX IF NOT EXISTS jobs_instance ON jobs (platform, instance_id);
CREATE TABLE IF NOT EXISTS instances (
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
);
"""

_JOB_FIELDS = tuple(Job.model_fields)


class Store:
    """Jobs and instances on disk."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or locations.data_dir() / "vp-tui.sqlite3"
        locations.ensure_private_dir(self.path.parent)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
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
        with self._connect() as db:
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
        with self._connect() as db:
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
        with self._connect() as db:
            return [_job(row) for row in db.execute(sql, params).fetchall()]

    def record_instances(self, instances: Sequence[Instance], now: datetime | None = None) -> None:
        """Remember instances seen (for receipts and for spotting forgotten ones)."""
        stamp = (now or utcnow()).isoformat()
        with self._connect() as db:
            for i in instances:
                db.execute(
                    """INSERT INTO instances
                       (platform, instance_id, label, gpu, price_per_hour, state,
                        first_seen, last_seen)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (platform, instance_id) DO UPDATE SET
                       label = excluded.label, gpu = excluded.gpu,
                       price_per_hour = excluded.price_per_hour, state = excluded.state,
                       last_seen = excluded.last_seen, gone_at = NULL""",
                    (
                        i.platform,
                        i.instance_id,
                        i.label,
                        i.gpu or i.gpu_raw,
                        i.price_per_hour,
                        str(i.state),
                        stamp,
                        stamp,
                    ),
                )

    def mark_gone(self, platform: str, instance_id: str, now: datetime | None = None) -> None:
        """Record that an instance was verified destroyed."""
        with self._connect() as db:
            db.execute(
                "UPDATE instances SET gone_at = ?, state = 'terminated' "
                "WHERE platform = ? AND instance_id = ?",
                ((now or utcnow()).isoformat(), platform, instance_id),
            )


def _job(row: sqlite3.Row) -> Job:
    return Job.model_validate({name: row[name] for name in _JOB_FIELDS})
