"""The jobs service on the demo cloud: push -> start -> stream -> pull, re-attach, cancel, lost."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vp_tui.bootstrap import Context, build_context
from vp_tui.core.models import JobState
from vp_tui.services.jobs import RunOptions, shell_command

pytest_plugins = ["demo_fixtures"]

from demo_helpers import rent  # noqa: E402


def make_project(root: Path) -> Path:
    project = root / "project"
    (project / "data").mkdir(parents=True)
    (project / "train.py").write_text(
        "import os\n"
        "os.makedirs('outputs', exist_ok=True)\n"
        "open('outputs/model.txt', 'w').write('trained on ' + open('data/x.txt').read())\n"
        "print('loss 0.1')\n"
        "raise SystemExit(7)\n"
    )
    (project / "data" / "x.txt").write_text("cats")
    (project / ".venv").mkdir()
    (project / ".venv" / "big.bin").write_bytes(b"x" * 1000)
    return project


def test_launch_pushes_runs_streams_pulls(context: Context, tmp_path: Path) -> None:
    instance = rent(context)
    project = make_project(tmp_path)
    output: list[bytes] = []
    states: list[JobState] = []
    job = context.job_service.launch(
        instance,
        "python3 train.py",
        RunOptions(project=project),
        on_output=output.append,
        on_state=lambda j: states.append(j.state),
    )
    assert job.state is JobState.FAILED and job.exit_code == 7
    assert b"".join(output) == b"loss 0.1\n"
    assert (project / "outputs" / "model.txt").read_text() == "trained on cats"
    assert states[:3] == [JobState.PENDING, JobState.SYNCING, JobState.RUNNING]
    assert JobState.PULLING in states and states[-1] is JobState.FAILED
    sandbox = context.demo_cloud.cloud.sandbox_dir(  # type: ignore[union-attr]
        context.demo_cloud.cloud.get("vast", instance.instance_id)  # type: ignore[union-attr,arg-type]
    )
    assert (sandbox / "train.py").exists() and not (sandbox / ".venv").exists()
    stored = context.job_service.get(job.job_id)
    assert stored.exit_code == 7 and stored.finished_at is not None
    assert Path(stored.log_path or "").read_bytes() == b"loss 0.1\n"
    assert [j.job_id for j in context.job_service.history()] == [job.job_id]


def test_dropped_connection_then_reattach_loses_and_repeats_nothing(
    context: Context, demo_cloud: object, tmp_path: Path
) -> None:
    instance = rent(context, "runpod", "RTX A4000")
    project = make_project(tmp_path)
    command = "for i in $(seq 1 400); do echo line $i; sleep 0.005; done"
    service = context.job_service
    job = service.start(instance, command, RunOptions(project=project, sync_up=False))
    received: list[bytes] = []
    dropped = threading.Event()

    def on_output(chunk: bytes) -> None:
        received.append(chunk)
        if not dropped.is_set() and sum(map(len, received)) > 800:
            dropped.set()
            context.demo_cloud.ssh_hosts.drop_connections(f"runpod-{instance.instance_id}")  # type: ignore[union-attr]

    job = service.follow(job, on_output=on_output)
    assert dropped.is_set()
    assert job.state is JobState.SUCCEEDED
    expected = "".join(f"line {i}\n" for i in range(1, 401)).encode()
    assert b"".join(received) == expected
    assert Path(job.log_path or "").read_bytes() == expected


def test_restarted_vp_resumes_from_last_byte(
    context: Context, demo_cloud: object, tmp_path: Path
) -> None:
    instance = rent(context)
    service = context.job_service
    command = "for i in $(seq 1 200); do echo n$i; sleep 0.01; done"
    job = service.start(instance, command, RunOptions(project=tmp_path, sync_up=False))
    stop = threading.Event()
    first: list[bytes] = []

    def stop_soon(chunk: bytes) -> None:
        first.append(chunk)
        if sum(map(len, first)) > 100:
            stop.set()

    partial = service.follow(job, on_output=stop_soon, stop=stop)
    assert not partial.state.is_final
    service.close()
    # A new vp: a new engine on the same data dir, re-attaching from the store.
    other = build_context(demo_cloud=context.demo_cloud)
    try:
        again = other.job_service.get(job.job_id)
        rest: list[bytes] = []
        done = other.job_service.attach(again, on_output=rest.append)
    finally:
        other.close()
    assert done.state is JobState.SUCCEEDED and done.exit_code == 0
    expected = "".join(f"n{i}\n" for i in range(1, 201)).encode()
    assert b"".join(first) + b"".join(rest) == expected
    assert Path(done.log_path or "").read_bytes() == expected


def test_cancel_stops_the_process_group(context: Context, tmp_path: Path) -> None:
    instance = rent(context)
    service = context.job_service
    job = service.start(
        instance, "sleep 300 & sleep 300; wait", RunOptions(project=tmp_path, sync_up=False)
    )
    canceled = service.cancel(job, grace=1)
    assert canceled.state is JobState.CANCELED
    final = service.follow(canceled)
    assert final.state is JobState.CANCELED
    status = service.remote(instance).job_status(job.job_id)
    assert status.ended


def test_job_on_destroyed_instance_is_lost(context: Context, tmp_path: Path) -> None:
    instance = rent(context)
    service = context.job_service
    job = service.start(instance, "sleep 300", RunOptions(project=tmp_path, sync_up=False))
    context.fleet.destroy(instance.instance_id, instance.platform, timeout=10, poll_seconds=0.2)
    lost = service.follow(job, reconnect_timeout=5)
    assert lost.state is JobState.LOST
    assert "gone" in (lost.error or "")


def test_running_jobs_are_listed_for_reattach(context: Context, tmp_path: Path) -> None:
    instance = rent(context)
    service = context.job_service
    job = service.start(instance, "sleep 2", RunOptions(project=tmp_path, sync_up=False))
    assert [j.job_id for j in service.running()] == [job.job_id]
    assert service.follow(job).state is JobState.SUCCEEDED
    assert service.running() == []


def test_environment_values_are_quoted(context: Context, tmp_path: Path) -> None:
    instance = rent(context)
    out: list[bytes] = []
    job = context.job_service.launch(
        instance,
        'printf "%s|%s\\n" "$A" "$B"',
        RunOptions(
            project=tmp_path, sync_up=False, pull=False, env={"A": "b c", "B": "$(echo no); 'q'"}
        ),
        on_output=out.append,
    )
    assert job.state is JobState.SUCCEEDED
    assert b"".join(out) == b"b c|$(echo no); 'q'\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["apt update && apt install -y rsync"], "apt update && apt install -y rsync"),
        (["python3", "-c", "print(42)"], "python3 -c 'print(42)'"),
        (["echo", "a b"], "echo 'a b'"),
    ],
)
def test_shell_command(argv: list[str], expected: str) -> None:
    assert shell_command(argv) == expected
