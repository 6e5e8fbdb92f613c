"""Pulls through Vast's native transfer path (rsync into the demo host's daemon module)
keep local entries the same way as the direct paths do."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from demo_helpers import rent
from requirements import require

from vp_tui.bootstrap import Context
from vp_tui.core.models import Instance
from vp_tui.platforms.vast import VastPlatform
from vp_tui.remote.sync import DaemonTarget, Syncer
from vp_tui.sim.server import DemoCloud

pytest_plugins = ["demo_fixtures"]


def _write(path: Path, text: str, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


@pytest.fixture
def rented(context: Context) -> Instance:
    """A running demo Vast instance."""
    return rent(context, "vast")


def test_native_pull_keeps_local_entries_and_makes_no_symlinks(
    context: Context, demo_cloud: DemoCloud, rented: Instance, tmp_path: Path
) -> None:
    require("rsync", "ssh")
    vast = context.platforms["vast"]
    assert isinstance(vast, VastPlatform)
    endpoint = vast.transfer_endpoint(rented.instance_id, "pull", "/workspace/proj")
    assert endpoint is not None
    remote = context.job_service.remote(rented)
    project = tmp_path / "project"
    old = time.time() - 3600
    for name in ["notes.txt", "table.csv", "result.txt"]:
        _write(project / name, f"pushed {name}\n", old)
    syncer = Syncer(
        remote,
        project,
        remote_dir="/workspace/proj",
        daemon_target=DaemonTarget.from_endpoint(endpoint),
    )
    assert syncer.push().method == "rsync-native"

    inst = demo_cloud.cloud.get("vast", rented.instance_id)
    assert inst is not None
    sandbox_proj = demo_cloud.cloud.sandbox_dir(inst) / "proj"
    _write(project / "notes.txt", "edited while the job ran\n", time.time() - 60)
    _write(sandbox_proj / "notes.txt", "written by the job\n")
    (sandbox_proj / "table.csv").unlink()
    _write(sandbox_proj / "table.csv" / "part-0.csv", "a directory now\n")
    _write(project / "table.csv", "edited here\n")
    _write(sandbox_proj / "result.txt", "the job's result\n")
    (sandbox_proj / "passwd").symlink_to("/etc/passwd")

    result = syncer.pull()
    assert (result.method, result.native_fallback) == ("rsync-native", None)
    assert (project / "notes.txt").read_text() == "edited while the job ran\n"
    assert (project / "table.csv").read_text() == "edited here\n"
    assert (project / "result.txt").read_text() == "the job's result\n"
    assert not os.path.lexists(project / "passwd")
    assert {entry.split(": ", 1)[0] for entry in result.conflicts} == {"notes.txt", "table.csv"}
