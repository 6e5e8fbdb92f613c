"""Bad input to `vp` ends in one line on stderr and exit 2 (1 for a runtime failure),
before anything is rented or run; never a traceback. Also: options may come before
the PATHs of `vp sync pull`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from vp_tui.cli import main as vp

HUGE_ID = "9" * 5000
ARABIC_123 = "\u0661\u0662\u0663"


@pytest.fixture(autouse=True)
def demo_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VP_CONFIG_FILE", str(tmp_path / "config.toml"))
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "0.3")
    monkeypatch.delenv("VP_SIM_FAULTS", raising=False)
    yield


def call(argv: list[str]) -> int:
    """`vp argv` in-process; argparse's exit is returned like any other status."""
    try:
        return vp(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


def rent(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    argv = ["--demo", "create-instance", "--yes", "--platform", "vast", "--gpu-type", "RTX_4090"]
    assert vp([*argv, "--max-price", "1", "--wait", "--json"]) == 0
    return str(json.loads(capsys.readouterr().out)["instance_id"])


BAD_ARGUMENTS = [
    ["offers", "--max-price", "nan"],
    ["offers", "--max-price", "-1"],
    ["offers", "--max-price", "inf"],
    ["offers", "--min-vram", "inf"],
    ["offers", "--num-gpus", "0"],
    ["offers", "--limit", "-3"],
    ["create-instance", "--gpu-type", "RTX_4090", "--max-price", "nan"],
    ["create-instance", "--gpu-type", "RTX_4090", "--max-price", "0"],
    ["create-instance", "--gpu-type", "RTX_4090", "--num-gpus", "0"],
    ["create-instance", "--gpu-type", "RTX_4090", "--num-gpus", "\u0663"],
    ["create-instance", "--gpu-type", "RTX_4090", "--num-gpus", "9" * 40],
    ["create-instance", "--gpu-type", "RTX_4090", "--disk", "-5"],
    ["create-instance", "--gpu-type", "RTX_4090", "--bid", "nan"],
    ["create-instance", "--gpu-type", "RTX_4090", "--wait", "--timeout", "nan"],
    ["create-instance", "--gpu-type", "RTX_4090", "--wait", "--timeout", "-1"],
    ["create-instance", "--offer-id", "a\x01b"],
    ["destroy-instance", ARABIC_123, "--yes"],
    ["destroy-instance", HUGE_ID, "--yes"],
    ["destroy-instance", "1", "--yes", "--timeout", "inf"],
    ["stop-instance", "12", "--timeout", "nan"],
    ["start-instance", HUGE_ID],
    ["run", "--pull", "../x", "--", "true"],
    ["run", "--pull", "/etc", "--", "true"],
    ["run", "--instance-id", ARABIC_123, "--", "true"],
    ["sync", "pull", "../x"],
    ["sync", "pull", "a/../../b"],
    ["logs", HUGE_ID],
    ["cancel", ARABIC_123],
    ["ssh", ARABIC_123],
    ["ssh-forget", "../x"],
    ["jobs", "--instance-id", "x/y"],
    ["config-set", "--set", "vast.max_price_per_hour=inf"],
    ["config-set", "--set", "vast.disk_gb=nan"],
]

BAD_ENVIRONMENT = [
    ({"VP_SIM_FAULTS": "bogus"}, ["offers"]),
    ({"VP_SIM_FAULTS": "vast:latency=\u0661\u0660"}, ["offers"]),
    ({"VP_SIM_FAULTS": "vast:error=500@nan"}, ["offers"]),
    ({"VP_SIM_FAULTS": "vast:error=" + "9" * 5000}, ["list-instances"]),
    ({"VP_SIM_BOOT_SECONDS": "soon"}, ["offers"]),
    ({"VP_GENERAL__REFRESH_SECONDS": "often"}, ["offers"]),
    ({"VP_VAST__MAX_PRICE_PER_HOUR": "inf"}, ["offers"]),
    ({"VP_VAST": "1"}, ["list-instances"]),
]


def assert_one_line_error(err: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("vp")


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=lambda a: " ".join(a)[:50])
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert call(["--demo", *argv]) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err)
    assert captured.out == ""


@pytest.mark.parametrize(("env", "argv"), BAD_ENVIRONMENT, ids=lambda v: str(v)[:40])
def test_bad_environment_exits_2_with_one_line(
    env: dict[str, str],
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert call(["--demo", *argv]) == 2
    err = capsys.readouterr().err
    assert_one_line_error(err)
    assert next(iter(env)) in err


@pytest.mark.parametrize("argv", [["offers"], ["jobs"], ["logs", "abc"], ["list-instances"]])
def test_a_data_dir_that_is_a_file_is_named(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    not_a_dir = tmp_path / "data-file"
    not_a_dir.write_text("x")
    monkeypatch.setenv("VP_DATA_DIR", str(not_a_dir))
    assert call(["--demo", *argv]) == 2
    err = capsys.readouterr().err
    assert_one_line_error(err)
    assert f"VP_DATA_DIR={not_a_dir}: not a directory" in err


def test_runtime_failures_are_one_line_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert call(["--demo", "stop-instance", "12a"]) == 1
    assert_one_line_error(capsys.readouterr().err)


def test_a_bad_pull_path_fails_before_the_job_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rent(capsys)
    project = tmp_path / "project"
    project.mkdir()
    base = ["--demo", "run", "--no-sync", "--project", str(project)]
    assert call([*base, "--pull", "../x", "--", "touch ran"]) == 2
    assert "'../x'" in capsys.readouterr().err
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert call([*base, "--pull-to", str(a_file), "--", "touch ran"]) == 2
    assert f"--pull-to {a_file}: not a directory" in capsys.readouterr().err
    assert vp(["--demo", "jobs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing ran


def test_sync_pull_takes_paths_after_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    instance_id = rent(capsys)
    project = tmp_path / "project"
    (project / "out").mkdir(parents=True)
    (project / "out" / "a.txt").write_text("a")
    (project / "b.txt").write_text("b")
    assert (
        vp(["--demo", "sync", "push", "--instance-id", instance_id, "--project", str(project)]) == 0
    )
    dest = tmp_path / "dest"
    argv = ["--demo", "sync", "pull", "--instance-id", instance_id, "--project", str(project)]
    capsys.readouterr()
    assert vp([*argv, "--pull-to", str(dest), "out", "--json"]) == 0
    pulled = json.loads(capsys.readouterr().out)
    assert pulled["direction"] == "pull" and pulled["instance"]["instance_id"] == instance_id
    assert (dest / "out" / "a.txt").read_text() == "a" and not (dest / "b.txt").exists()
    mixed = tmp_path / "mixed"
    assert vp(["--demo", "sync", "pull", "out", "--instance-id", instance_id, "--project",
               str(project), "--pull-to", str(mixed), "b.txt"]) == 0  # fmt: skip
    assert (mixed / "out" / "a.txt").exists() and (mixed / "b.txt").read_text() == "b"


def test_sync_pull_refuses_unknown_options_after_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert call(["--demo", "sync", "pull", "out", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert_one_line_error(err)
    assert "unrecognized arguments: --bogus" in err
