"""`vp run`, `logs`, `jobs`, `sync`, `ssh` and `ssh-forget` end to end on the demo cloud.

Every `vp` call below is a separate engine with its own demo cloud process state,
as separate `vp` processes would be: a detached job survives the `vp` that
started it, and a later `vp logs --follow` picks it up. Files move by rsync when
this machine has it and over SFTP when it does not (``VP_HIDE_RSYNC=1`` runs the
whole file that way; ``no_rsync`` does it for one test in every run).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from requirements import missing, path_without, require

from vp_tui.cli import main as vp

JOB_KEYS = {
    "job_id", "platform", "instance_id", "command", "state", "exit_code", "started_at",
    "finished_at", "log_path",
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("cli_demo")


@pytest.fixture
def no_rsync(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """This machine without rsync: ``PATH`` keeps every other program."""
    monkeypatch.setenv("PATH", path_without({"rsync"}, tmp_path / "bin-without-rsync"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "my project"
    root.mkdir()
    (root / "train.py").write_text(
        "import os, sys\n"
        "os.makedirs('outputs', exist_ok=True)\n"
        "open('outputs/weights ü.txt', 'w').write('w')\n"
        "print('epoch 1')\n"
        "print('warning', file=sys.stderr)\n"
        "raise SystemExit(5)\n"
    )
    (root / "keep.txt").write_text("local only")
    return root


def rent(capsys: pytest.CaptureFixture[str], platform: str = "vast") -> str:
    capsys.readouterr()
    gpu = "RTX_4090" if platform == "vast" else "RTX_A4000"
    assert (
        vp(
            [
                "--demo",
                "create-instance",
                "--yes",
                "--platform",
                platform,
                "--gpu-type",
                gpu,
                "--wait",
                "--json",
            ]
        )
        == 0
    )
    return str(json.loads(capsys.readouterr().out)["instance_id"])


def test_run_pushes_streams_pulls_and_exits_with_the_job(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rent(capsys)
    status = vp(["--demo", "run", "--project", str(project), "--", "python3", "train.py"])
    captured = capsys.readouterr()
    assert status == 5
    assert "epoch 1\n" in captured.out and "warning\n" in captured.out
    assert (project / "outputs" / "weights ü.txt").read_text() == "w"
    assert (project / "keep.txt").read_text() == "local only"  # pull never deletes
    assert "failed (exit code 5)" in captured.err


def test_detached_job_survives_vp_and_logs_follow_picks_it_up(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rent(capsys)
    command = "for i in 1 2 3; do echo tick $i; sleep 0.3; done; exit 4"
    assert (
        vp(["--demo", "run", "--no-sync", "--detach", "--project", str(project), "--", command])
        == 0
    )
    job_id = capsys.readouterr().out.strip()
    assert job_id
    assert vp(["--demo", "logs", job_id, "--follow"]) == 4
    assert capsys.readouterr().out == "tick 1\ntick 2\ntick 3\n"
    assert vp(["--demo", "logs", job_id]) == 0  # the local copy
    assert capsys.readouterr().out == "tick 1\ntick 2\ntick 3\n"
    assert vp(["--demo", "jobs", "--json"]) == 0
    jobs = json.loads(capsys.readouterr().out)
    assert [j["job_id"] for j in jobs] == [job_id]
    assert set(jobs[0]) >= JOB_KEYS
    assert jobs[0]["state"] == "failed" and jobs[0]["exit_code"] == 4


def test_seed_style_single_shell_string(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rent(capsys, "runpod")
    status = vp(["--demo", "run", "--no-sync", "--no-pull", "--", "echo a && echo b"])
    assert status == 0
    assert capsys.readouterr().out == "a\nb\n"


def test_no_running_instance_suggests_create(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["--demo", "run", "--", "true"]) == 2
    assert "vp create-instance" in capsys.readouterr().err


def test_several_running_instances_need_a_choice(capsys: pytest.CaptureFixture[str]) -> None:
    first = rent(capsys, "vast")
    second = rent(capsys, "runpod")
    assert vp(["--demo", "run", "--no-sync", "--", "true"]) == 2
    err = capsys.readouterr().err
    assert first in err and second in err and "--instance-id" in err
    assert (
        vp(["--demo", "run", "--no-sync", "--no-pull", "--instance-id", second, "--", "true"]) == 0
    )


def test_sync_push_and_pull_paths(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rent(capsys)
    assert vp(["--demo", "sync", "push", "--project", str(project), "--json"]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert pushed["direction"] == "push" and pushed["files"] == 2
    # Vast: through its transfer endpoint, when there is an rsync here to reach it.
    assert pushed["method"] == ("rsync-native" if missing("rsync") is None else "sftp")
    assert (
        vp(
            [
                "--demo",
                "run",
                "--no-sync",
                "--no-pull",
                "--project",
                str(project),
                "--",
                "python3 train.py",
            ]
        )
        == 5
    )
    dest = tmp_path / "results"
    assert (
        vp(["--demo", "sync", "pull", "outputs", "--project", str(project), "--pull-to", str(dest)])
        == 0
    )
    assert (dest / "outputs" / "weights ü.txt").exists()
    assert not (dest / "train.py").exists()


@pytest.mark.parametrize("platform", ["vast", "runpod"])
def test_without_rsync_run_and_sync_go_over_sftp(
    no_rsync: None,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    platform: str,
) -> None:
    rent(capsys, platform)
    (project / "data").mkdir()
    (project / "data" / "in.txt").write_text("input")
    status = vp(["--demo", "run", "--project", str(project), "--", "python3", "train.py"])
    captured = capsys.readouterr()
    assert status == 5, captured.err
    assert "epoch 1\n" in captured.out and "warning\n" in captured.out
    assert (project / "outputs" / "weights ü.txt").read_text() == "w"
    assert (project / "keep.txt").read_text() == "local only"

    assert vp(["--demo", "sync", "push", "--project", str(project), "--json"]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert (pushed["method"], pushed["files"]) == ("sftp", 0)  # all there already
    dest = tmp_path / "results"
    pull = ["sync", "pull", "outputs", "data/in.txt", "--project", str(project)]
    assert vp(["--demo", *pull, "--pull-to", str(dest), "--json"]) == 0
    pulled = json.loads(capsys.readouterr().out)
    assert (pulled["method"], pulled["files"]) == ("sftp", 2)
    assert (dest / "outputs" / "weights ü.txt").read_text() == "w"
    assert (dest / "data" / "in.txt").read_text() == "input"
    assert not (dest / "train.py").exists()


def test_ssh_runs_a_command_with_vp_keys(capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    require("ssh")
    instance_id = rent(capsys)
    # `vp ssh` hands the terminal to the system ssh; check the argv it builds works.
    from vp_tui.bootstrap import build_context

    context = build_context(demo=True)
    try:
        instance = context.fleet.find(instance_id, "vast")
        argv = context.job_service.remote(instance).ssh_command("echo via-system-ssh")
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    finally:
        context.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "via-system-ssh\n"
    assert "StrictHostKeyChecking=no" not in " ".join(argv)
    assert "/dev/null" not in " ".join(argv)


def test_ssh_forget(capsys: pytest.CaptureFixture[str]) -> None:
    instance_id = rent(capsys)
    assert (
        vp(["--demo", "run", "--no-sync", "--no-pull", "--", "true"]) == 0
    )  # records the host key
    assert vp(["--demo", "ssh-forget", instance_id]) == 0
    assert "Forgot" in capsys.readouterr().out
    assert vp(["--demo", "ssh-forget", instance_id]) == 1


def _listed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert vp(["--demo", "list-instances", "--json"]) == 0
    return [str(i["instance_id"]) for i in json.loads(capsys.readouterr().out)]


def test_destroy_after_pulls_then_destroys_even_when_the_job_fails(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance_id = rent(capsys)
    status = vp(
        ["--demo", "run", "--destroy-after", "--project", str(project), "--", "python3 train.py"]
    )
    err = capsys.readouterr().err
    assert status == 5, err  # the job's exit code, once the destroy is verified
    assert (project / "outputs" / "weights ü.txt").read_text() == "w"  # pulled first
    assert err.index("Pulled") < err.index(f"Destroyed vast instance {instance_id} (verified gone)")
    assert instance_id not in _listed(capsys)


def test_destroy_after_a_succeeding_job_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    instance_id = rent(capsys, "runpod")
    status = vp(["--demo", "run", "--no-sync", "--no-pull", "--destroy-after", "--", "echo ok"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.out == "ok\n"
    assert "(verified gone)" in captured.err
    assert instance_id not in _listed(capsys)


def test_destroy_after_keeps_the_instance_when_the_pull_fails(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance_id = rent(capsys)
    # Pulling into a directory below a file cannot work.
    into = project / "keep.txt" / "results"
    status = vp(
        ["--demo", "run", "--destroy-after", "--project", str(project), "--pull-to", str(into),
         "--", "python3 train.py"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1, err
    assert f"not destroying vast instance {instance_id}" in err
    assert "still billing" in err and "verified gone" not in err
    assert instance_id in _listed(capsys)


def test_destroy_after_cannot_go_with_detach(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["--demo", "run", "--detach", "--destroy-after", "--", "true"]) == 2
    assert "--detach" in capsys.readouterr().err
