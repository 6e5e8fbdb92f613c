"""The job store's schema versions: a database written before versioning opens, keeps its
rows and is migrated; a newer one is refused with a clear error; migrations are atomic."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vp_tui.cli import main as vp
from vp_tui.core.models import Instance, InstanceState, Job, JobState
from vp_tui.services.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError

# The schema exactly as vp-tui shipped it before the store had a version (user_version 0).
SHIPPED_SCHEMA = """
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

SHIPPED_ROWS = """
INSERT INTO jobs VALUES ('job-1', 'vast', '42', 'python train.py', '/work', 'succeeded', 0,
    '2025-01-02T03:04:05+00:00', '2025-01-02T03:04:06+00:00', '2025-01-02T04:04:06+00:00',
    1234, '/logs/job-1.log', 99, 0.4, NULL);
INSERT INTO instances VALUES ('vast', '42', 'trainer', 'RTX 4090', 0.4, 'running',
    '2025-01-02T03:00:00+00:00', '2025-01-02T05:00:00+00:00', NULL);
"""


def shipped_database(path: Path) -> Path:
    """A store as the unversioned vp-tui left it: WAL, today's tables, one job, one instance."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SHIPPED_SCHEMA + SHIPPED_ROWS)
    db.close()
    return path


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def columns(path: Path, table: str) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    finally:
        db.close()


def instance_rows(path: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM instances ORDER BY instance_id").fetchall()
    finally:
        db.close()


def test_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert SCHEMA_VERSION == MIGRATIONS[-1].version >= 2


def test_an_unversioned_database_keeps_its_rows_and_gains_the_new_version(
    tmp_path: Path,
) -> None:
    path = shipped_database(tmp_path / "vp-tui.sqlite3")
    assert user_version(path) == 0

    store = Store(path)

    assert user_version(path) == SCHEMA_VERSION
    job = store.job("job-1")
    assert job is not None
    assert job.state is JobState.SUCCEEDED and job.command == "python train.py"
    assert job.log_offset == 99 and job.bytes_synced == 1234 and job.price_per_hour == 0.4
    assert [j.job_id for j in store.jobs(platform="vast", instance_id="42")] == ["job-1"]
    assert {"storage_price_per_hour", "started_at"} <= set(columns(path, "instances"))
    (row,) = instance_rows(path)
    assert (row["label"], row["gpu"], row["state"]) == ("trainer", "RTX 4090", "running")
    assert row["first_seen"] == "2025-01-02T03:00:00+00:00"
    assert row["storage_price_per_hour"] == 0 and row["started_at"] is None
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()

    Store(path)  # opening again changes nothing
    assert user_version(path) == SCHEMA_VERSION
    assert len(instance_rows(path)) == 1


def test_a_new_database_starts_at_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    store = Store(path)
    assert user_version(path) == SCHEMA_VERSION
    store.save_job(Job(job_id="j", platform="runpod", instance_id="p", command="true"))
    assert store.job("j") is not None


def test_instances_seen_keep_storage_price_and_start_time(tmp_path: Path) -> None:
    path = shipped_database(tmp_path / "vp-tui.sqlite3")
    store = Store(path)
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    vast = Instance(
        platform="vast",
        instance_id="42",
        state=InstanceState.STOPPED,
        price_per_hour=0.4,
        storage_price_per_hour=0.02,
        started_at=now - timedelta(hours=5),
        observed_at=now,
    )
    runpod = Instance(
        platform="runpod",
        instance_id="pod1",
        state=InstanceState.RUNNING,
        price_per_hour=0.69,
        uptime_seconds=600.25,
        observed_at=now,
    )
    store.record_instances([vast, runpod], now)
    rows = {row["instance_id"]: row for row in instance_rows(path)}
    assert rows["42"]["first_seen"] == "2025-01-02T03:00:00+00:00"  # kept from before
    assert rows["42"]["state"] == "stopped"
    assert rows["42"]["storage_price_per_hour"] == 0.02
    assert rows["42"]["started_at"] == "2025-03-01T07:00:00+00:00"
    assert rows["pod1"]["started_at"] == "2025-03-01T11:50:00+00:00"
    assert rows["pod1"]["storage_price_per_hour"] == 0


def test_a_newer_database_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = shipped_database(tmp_path / "vp-tui.sqlite3")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer") as caught:
        Store(path)
    assert str(SCHEMA_VERSION + 1) in str(caught.value)
    assert user_version(path) == SCHEMA_VERSION + 1  # left alone


def test_vp_reports_a_newer_store_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = shipped_database(data / "vp-tui.sqlite3")
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    monkeypatch.setenv("VP_DATA_DIR", str(data))
    assert vp(["jobs"]) == 1
    err = capsys.readouterr().err
    assert "version 99" in err and "upgrade vp-tui" in err and "Traceback" not in err


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "half.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(SHIPPED_SCHEMA + SHIPPED_ROWS)
    # the second statement of step 2 cannot run: the column is already there
    db.execute("ALTER TABLE instances ADD COLUMN started_at TEXT")
    db.execute("PRAGMA user_version = 1")
    db.close()
    with pytest.raises(StoreError, match="duplicate column"):
        Store(path)
    assert user_version(path) == 1
    assert "storage_price_per_hour" not in columns(path, "instances")
    assert len(instance_rows(path)) == 1


def test_processes_opening_an_old_store_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = shipped_database(tmp_path / "vp-tui.sqlite3")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        try:
            Store(path)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert user_version(path) == SCHEMA_VERSION
    assert len(instance_rows(path)) == 1
