"""A failed lookup of a job's instance is not an absence: follow, cancel and finish say
the platform could not be reached, and only a confirmed-gone instance makes a job lost."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from vp_tui.bootstrap import Context
from vp_tui.cli import main as vp
from vp_tui.core.models import JobState
from vp_tui.services.jobs import JobError, RunOptions
from vp_tui.sim.server import DemoCloud

pytest_plugins = ["demo_fixtures"]

from demo_helpers import rent  # noqa: E402


def test_follow_through_an_outage_reports_it_and_keeps_the_job(
    context: Context, demo_cloud: DemoCloud, tmp_path: Path
) -> None:
    instance = rent(context)
    service = context.job_service
    job = service.start(instance, "sleep 1; echo done", RunOptions(project=tmp_path, sync_up=False))
    demo_cloud.set_faults("vast:error=503")
    with pytest.raises(JobError) as raised:
        service.follow(job, reconnect_timeout=1.5)
    message = str(raised.value)
    assert "may still be running" in message and f"vp logs {job.job_id} --follow" in message
    assert "gone" not in message
    assert service.get(job.job_id).state is JobState.RUNNING
    demo_cloud.set_faults("")
    out: list[bytes] = []
    done = service.follow(service.get(job.job_id), on_output=out.append)
    assert done.state is JobState.SUCCEEDED and b"".join(out) == b"done\n"


def test_follow_rides_out_a_short_outage(
    context: Context, demo_cloud: DemoCloud, tmp_path: Path
) -> None:
    instance = rent(context)
    service = context.job_service
    job = service.start(instance, "echo hello", RunOptions(project=tmp_path, sync_up=False))
    demo_cloud.set_faults("vast:error=503")
    healed = threading.Timer(1.0, demo_cloud.set_faults, args=("",))
    healed.start()
    try:
        out: list[bytes] = []
        done = service.follow(job, on_output=out.append, reconnect_timeout=30)
    finally:
        healed.cancel()
    assert done.state is JobState.SUCCEEDED and b"".join(out) == b"hello\n"


def test_a_waiting_follow_is_cancelled_by_stop(
    context: Context, demo_cloud: DemoCloud, tmp_path: Path
) -> None:
    instance = rent(context)
    service = context.job_service
    job = service.start(instance, "sleep 30", RunOptions(project=tmp_path, sync_up=False))
    demo_cloud.set_faults("vast:error=503")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    began = time.monotonic()
    stopped = service.follow(job, stop=stop, reconnect_timeout=60)
    assert time.monotonic() - began < 10
    assert stopped.state is JobState.RUNNING
    demo_cloud.set_faults("")
    service.cancel(job, grace=0.5)


def test_cancel_that_cannot_reach_the_platform_raises(
    context: Context, demo_cloud: DemoCloud, tmp_path: Path
) -> None:
    instance = rent(context)
    service = context.job_service
    service.lookup_timeout = 1.0
    job = service.start(instance, "sleep 300", RunOptions(project=tmp_path, sync_up=False))
    demo_cloud.set_faults("vast:error=503")
    with pytest.raises(JobError, match="may still be running"):
        service.cancel(job, grace=0.5)
    assert service.get(job.job_id).state is JobState.RUNNING
    assert service.remote(instance).job_status(job.job_id).state == "running"
    demo_cloud.set_faults("")
    assert service.cancel(service.get(job.job_id), grace=0.5).state is JobState.CANCELED


def test_finish_that_cannot_reach_the_platform_says_how_to_pull(
    context: Context, demo_cloud: DemoCloud, tmp_path: Path
) -> None:
    instance = rent(context)
    service = context.job_service
    service.lookup_timeout = 1.0
    options = RunOptions(project=tmp_path, sync_up=False, pull_paths=("outputs/",))
    job = service.start(instance, "mkdir -p outputs; echo w > outputs/w.txt", options)
    job = service.follow(job)
    assert job.state is JobState.SUCCEEDED
    demo_cloud.set_faults("vast:error=503")
    with pytest.raises(JobError) as raised:
        service.finish(job, options)
    message = str(raised.value)
    assert "not pulled" in message and "vp sync pull" in message
    assert f"--instance-id {instance.instance_id}" in message and "outputs/" in message
    assert service.get(job.job_id).state is JobState.SUCCEEDED
    assert not (tmp_path / "outputs").exists()


def test_vp_cancel_exits_nonzero_when_the_platform_refuses(
    demo_cloud: DemoCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "0.3")
    demo_cloud.stop()  # each `vp` below runs its own demo cloud on the same data dir
    args = ["--demo", "create-instance", "--yes", "--platform", "vast", "--gpu-type", "RTX_4090"]
    assert vp([*args, "--wait", "--json"]) == 0
    instance_id = str(json.loads(capsys.readouterr().out)["instance_id"])
    run = ["--demo", "run", "--instance-id", instance_id, "--no-sync", "--detach"]
    assert vp([*run, "--", "sleep 300"]) == 0
    job_id = capsys.readouterr().out.strip()
    monkeypatch.setenv("VP_SIM_FAULTS", "vast:auth")
    assert vp(["--demo", "cancel", job_id]) != 0
    assert "may still be running" in capsys.readouterr().err
    monkeypatch.delenv("VP_SIM_FAULTS")
    assert vp(["--demo", "jobs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["state"] == "running"
    assert vp(["--demo", "cancel", job_id]) == 0
    assert "canceled" in capsys.readouterr().out
