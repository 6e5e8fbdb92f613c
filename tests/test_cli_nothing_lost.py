"""`vp` when a platform fails mid-way: a rented instance is never forgotten, and an
instance is never chosen from a partial listing.

Each `vp` call is in-process against the demo cloud. Faults come from
``VP_SIM_FAULTS`` (read when `vp` starts its demo cloud) or, to change them while
one `vp` command is waiting, from a demo cloud the test owns and shares with `vp`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import vp_tui.cli.context as cli_context
from vp_tui.bootstrap import Context, build_context
from vp_tui.cli import main as vp
from vp_tui.sim.server import DemoCloud

pytestmark = pytest.mark.usefixtures("cli_demo")


@pytest.fixture
def slow_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoCloud]:
    """A demo cloud whose instances take a minute to boot, used by every `vp --demo` call."""
    with DemoCloud(tmp_path / "data" / "demo", boot_seconds=60, faults="") as cloud:

        def shared(demo: bool = False) -> Context:
            return build_context(demo_cloud=cloud)

        monkeypatch.setattr(cli_context, "build_context", shared)
        yield cloud


def rent(capsys: pytest.CaptureFixture[str], platform: str = "vast") -> str:
    capsys.readouterr()
    gpu = "RTX_4090" if platform == "vast" else "RTX_A4000"
    argv = ["--demo", "create-instance", "-y", "--platform", platform, "--gpu-type", gpu, "--wait"]
    assert vp([*argv, "--max-price", "1", "--json"]) == 0
    return str(json.loads(capsys.readouterr().out)["instance_id"])


def listed_ids(capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert vp(["--demo", "list-instances", "--json"]) == 0
    return [i["instance_id"] for i in json.loads(capsys.readouterr().out)]


def assert_reported_as_billing(err: str, platform: str, instance_id: str) -> None:
    assert f"{platform} instance {instance_id} exists and may be billing" in err
    assert f"vp destroy-instance {instance_id} --platform {platform}" in err
    assert "Traceback" not in err


# --- create-instance --wait: a failed wait still reports what was rented ---------------


def test_launch_timeout_still_prints_the_instance_and_how_to_destroy_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "60")
    argv = ["--demo", "create-instance", "--yes", "--platform", "vast", "--gpu-type", "RTX_4090"]
    status = vp([*argv, "--max-price", "1", "--wait", "--timeout", "0", "--json"])
    captured = capsys.readouterr()
    assert status == 1
    created = json.loads(captured.out)
    assert created["platform"] == "vast" and created["state"] != "running"
    assert_reported_as_billing(captured.err, "vast", created["instance_id"])
    assert "not reachable after 0s" in captured.err
    assert listed_ids(capsys) == [created["instance_id"]]


def test_launch_timeout_without_json_names_the_instance(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "60")
    argv = ["--demo", "create-instance", "--yes", "--platform", "runpod", "--gpu-type", "RTX_A4000"]
    assert vp([*argv, "--max-price", "1", "--wait", "--timeout", "0"]) == 1
    captured = capsys.readouterr()
    (instance_id,) = listed_ids(capsys)
    assert_reported_as_billing(captured.err, "runpod", instance_id)
    assert f"runpod instance {instance_id}" in captured.out


def test_key_rejected_while_waiting_reports_the_created_instance(
    slow_cloud: DemoCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    done = threading.Event()
    # The adapter reads the new instance once, then the wait polls it every few
    # seconds: reject the key after that first poll, so the failure is mid-wait.
    lookups = ("vast", "GET", "/api/v0/instances/{id}")

    def reject_keys_once_waiting() -> None:
        while not done.is_set():
            if slow_cloud.requests[lookups] >= 2:
                slow_cloud.set_faults("vast:auth")
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=reject_keys_once_waiting, daemon=True)
    watcher.start()
    try:
        argv = ["--demo", "create-instance", "-y", "--platform", "vast", "--gpu-type", "RTX_4090"]
        status = vp([*argv, "--max-price", "1", "--wait", "--timeout", "60", "--json"])
    finally:
        done.set()
        watcher.join(5)
    captured = capsys.readouterr()
    assert status == 1
    (sim,) = slow_cloud.cloud.instances("vast")
    created = json.loads(captured.out)
    assert created["instance_id"] == str(sim.id)
    assert "API key rejected" in captured.err
    assert_reported_as_billing(captured.err, "vast", str(sim.id))
    slow_cloud.set_faults("")
    assert listed_ids(capsys) == [str(sim.id)]


# --- run / sync / ssh: no instance is chosen from a partial listing --------------------

DEFAULT_INSTANCE_COMMANDS = [
    pytest.param(["run", "--no-sync", "--no-pull", "--", "true"], id="run"),
    pytest.param(["sync", "push"], id="sync-push"),
    pytest.param(["sync", "pull", "outputs"], id="sync-pull"),
    pytest.param(["ssh", "--", "true"], id="ssh"),
]


@pytest.mark.parametrize("command", DEFAULT_INSTANCE_COMMANDS)
def test_a_failing_platform_is_never_skipped_when_choosing_the_instance(
    command: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    rent(capsys, "vast")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:auth")
    capsys.readouterr()
    assert vp(["--demo", *command]) == 1
    err = capsys.readouterr().err
    assert "runpod: instances could not be listed" in err and "API key rejected" in err
    assert "--instance-id" in err and "Traceback" not in err
    assert vp(["--demo", "jobs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing ran


@pytest.mark.parametrize("command", DEFAULT_INSTANCE_COMMANDS)
def test_a_rejected_key_is_not_read_as_no_instance(
    command: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VP_SIM_FAULTS", "vast:auth")
    assert vp(["--demo", *command]) == 1
    err = capsys.readouterr().err
    assert "vast: instances could not be listed" in err and "API key rejected" in err
    assert "create-instance" not in err  # no invitation to rent a duplicate
    assert "--instance-id" in err


def test_an_explicit_instance_id_works_with_the_other_platform_failing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    instance_id = rent(capsys, "vast")
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:auth")
    argv = ["--demo", "run", "--no-sync", "--no-pull", "--instance-id", instance_id]
    assert vp([*argv, "--platform", "vast", "--", "true"]) == 0
