"""Job records corrected from the instance when a job is next followed: when it really
ended (its exit record), and jobs whose vp stopped before the job started."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

from vp_tui.bootstrap import Context
from vp_tui.core.models import Job, JobState
from vp_tui.services.jobs import RunOptions, new_job_id

pytest_plugins = ["demo_fixtures"]

from demo_helpers import rent  # noqa: E402


def test_a_detached_job_is_timed_by_its_exit_record(context: Context, tmp_path: Path) -> None:
    instance = rent(context)
    service = context.job_service
    job = service.start(instance, "sleep 1; echo hi", RunOptions(project=tmp_path, sync_up=False))
    remote = service.remote(instance)
    deadline = time.monotonic() + 30
    while not remote.job_status(job.job_id).ended and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3)  # nobody follows it for a while
    done = service.follow(job)
    assert done.state is JobState.SUCCEEDED
    assert done.duration_seconds is not None and done.duration_seconds < 2.5
    stored = service.get(job.job_id)
    assert stored.finished_at == done.finished_at


def stuck_syncing_job(context: Context) -> Job:
    """A job record left in ``syncing`` by a vp that was killed while pushing."""
    instance = rent(context)
    job_id = new_job_id()
    log_path = context.job_service.log_path(job_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.touch()
    job = Job(
        job_id=job_id,
        platform=instance.platform,
        instance_id=instance.instance_id,
        command="python3 train.py",
        workdir="/workspace",
        log_path=str(log_path),
        state=JobState.SYNCING,
    )
    context.job_service.store.save_job(job)
    return job


def test_a_job_whose_vp_stopped_while_syncing_is_failed_not_lost(context: Context) -> None:
    job = stuck_syncing_job(context)
    ended = context.job_service.follow(job)
    assert ended.state is JobState.FAILED and "never started" in (ended.error or "")
    assert context.job_service.get(job.job_id).state is JobState.FAILED


def test_a_job_still_being_started_elsewhere_is_left_alone(context: Context) -> None:
    job = stuck_syncing_job(context)
    with open(job.log_path or "", "ab") as starting:  # another vp, still pushing
        fcntl.flock(starting.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        stop = threading.Event()
        threading.Timer(0.6, stop.set).start()
        waited = context.job_service.follow(job, stop=stop)
        assert waited.state is JobState.SYNCING
    assert context.job_service.get(job.job_id).state is JobState.SYNCING
