"""Pulls keep what is here: type clashes, edits made while a job ran, symlinks from the
instance, and the default excludes for secrets; over rsync and SFTP, against a real
sshd and a demo SSH host."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from requirements import require

from vp_tui.remote.ssh import Remote
from vp_tui.remote.sync import Syncer, SyncResult, _safe_name

if TYPE_CHECKING:
    from sshd_fixture import TransportHost

pytest_plugins = ["sshd_fixture"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture(params=["rsync", "sftp"])
def method(request: pytest.FixtureRequest) -> str:
    """Each test runs once per transport (the rsync one needs rsync here)."""
    if request.param == "rsync":
        require("rsync")
    return str(request.param)


def _syncer(remote: Remote, host: TransportHost, project: Path, method: str) -> Syncer:
    return Syncer(
        remote,
        project,
        remote_dir=f"{host.remote_root}/proj",
        method=method,  # type: ignore[arg-type]
    )


def _write(path: Path, text: str, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _conflicted(result: SyncResult) -> set[str]:
    return {entry.split(": ", 1)[0] for entry in result.conflicts}


def test_pull_keeps_local_entries_of_another_kind(
    ssh_host: TransportHost, remote: Remote, project: Path, method: str
) -> None:
    old = time.time() - 3600
    odd = "odd [1]*?.txt"
    for name in ["a.txt", "b.txt", "c/inner.txt", "d/inner.txt", "e.txt", odd]:
        _write(project / name, f"pushed {name}\n", old)
    syncer = _syncer(remote, ssh_host, project, method)
    syncer.push()
    copy = ssh_host.local_root / "proj"
    # On the instance: a directory, a symlink and a file where the project has others.
    (copy / "a.txt").unlink()
    _write(copy / "a.txt" / "made.txt", "a directory now\n")
    (copy / "b.txt").unlink()
    (copy / "b.txt").symlink_to("e.txt")
    (copy / "c" / "inner.txt").unlink()
    (copy / "c").rmdir()
    _write(copy / "c", "a file now\n")
    _write(copy / "new.txt", "fresh result\n")
    (copy / odd).unlink()
    _write(copy / odd / "made.txt", "a directory now\n")
    _write(copy / "odd [2].txt", "not named by the wildcard\n")
    # Here: newer local edits, and a symlink the instance has a file for.
    _write(project / "a.txt", "edited here\n")
    _write(project / "b.txt", "edited here too\n")
    _write(project / odd, "edited here\n")
    (project / "e.txt").unlink()
    (project / "e.txt").symlink_to("d/inner.txt")
    _write(copy / "e.txt", "rewritten on the instance\n")

    result = syncer.pull()

    assert (project / "a.txt").read_text() == "edited here\n"
    assert (project / "b.txt").read_text() == "edited here too\n"
    assert (project / "c" / "inner.txt").read_text() == "pushed c/inner.txt\n"
    assert (project / "e.txt").is_symlink()
    assert (project / "d" / "inner.txt").read_text() == "pushed d/inner.txt\n"
    assert (project / "new.txt").read_text() == "fresh result\n"
    assert (project / odd).read_text() == "edited here\n"
    assert (project / "odd [2].txt").read_text() == "not named by the wildcard\n"
    assert _conflicted(result) == {"a.txt", "b.txt", "c", "e.txt", odd}
    # The instance's copy is left as it was.
    assert (copy / "a.txt" / "made.txt").exists() and (copy / "c").is_file()


def test_pull_keeps_a_local_edit_made_while_the_job_ran(
    ssh_host: TransportHost, remote: Remote, project: Path, method: str
) -> None:
    old = time.time() - 3600
    _write(project / "notes.txt", "before the job\n", old)
    _write(project / "result.txt", "placeholder\n", old)
    syncer = _syncer(remote, ssh_host, project, method)
    syncer.push()
    copy = ssh_host.local_root / "proj"
    # Edited here while the job ran; the job writes the same file later.
    _write(project / "notes.txt", "edited while the job ran\n", time.time() - 60)
    _write(copy / "notes.txt", "written by the job\n")
    _write(copy / "result.txt", "the job's result\n", time.time() - 30)

    result = syncer.pull()
    assert (project / "notes.txt").read_text() == "edited while the job ran\n"
    assert (project / "result.txt").read_text() == "the job's result\n"
    assert _conflicted(result) == {"notes.txt"}
    assert (copy / "notes.txt").read_text() == "written by the job\n"

    # What a pull brought back counts as synced: the next job's version comes back too.
    _write(copy / "result.txt", "the next job's result\n")
    again = syncer.pull()
    assert (project / "result.txt").read_text() == "the next job's result\n"
    assert _conflicted(again) == {"notes.txt"}


def test_pull_makes_no_symlinks_and_never_writes_through_one(
    ssh_host: TransportHost,
    remote: Remote,
    project: Path,
    method: str,
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    _write(outside / "victim.txt", "untouched\n")
    _write(project / "train.py", "print(1)\n")
    syncer = _syncer(remote, ssh_host, project, method)
    syncer.push()
    copy = ssh_host.local_root / "proj"
    (copy / "passwd").symlink_to("/etc/passwd")
    (copy / "up").symlink_to("..")
    (copy / "out").symlink_to(str(outside))
    (copy / "inside").symlink_to("train.py")
    _write(copy / "outputs" / "victim.txt", "from the instance\n")
    _write(copy / "results" / "victim.txt", "from the instance\n")
    _write(copy / "r.txt", "from the instance\n")
    # Symlinks here (left by an older pull, say) where the instance has entries.
    (project / "outputs").symlink_to(str(outside))
    (project / ".r.txt.vp-partial").symlink_to(str(outside / "victim.txt"))

    result = syncer.pull()
    for name in ["passwd", "up", "out", "inside"]:
        assert not os.path.lexists(project / name), name
    assert (project / "outputs").is_symlink()
    assert (outside / "victim.txt").read_text() == "untouched\n"
    assert sorted(os.listdir(outside)) == ["victim.txt"]
    assert (project / "results" / "victim.txt").read_text() == "from the instance\n"
    assert (project / "r.txt").read_text() == "from the instance\n"
    assert "outputs" in _conflicted(result)

    named = syncer.pull(["outputs/victim.txt", "results/victim.txt"])
    assert (outside / "victim.txt").read_text() == "untouched\n"
    assert _conflicted(named) == {"outputs"}


def test_names_a_server_may_not_send() -> None:
    for name in [".", "..", "a/b", "../x", "nul\0byte", ""]:
        assert not _safe_name(name)
    for name in ["ok.txt", "..hidden", "sp ace", "ü"]:
        assert _safe_name(name)


SECRETS = [
    ".env",
    ".env.local",
    "prod.env",
    ".envrc",
    ".netrc",
    ".ssh/id_rsa",
    ".aws/credentials",
    "id_rsa",
    "keys/id_ed25519",
    "id_ecdsa",
    "server.pem",
    "deep/tls.key",
]


def test_push_leaves_secrets_behind_unless_vpignore_says_otherwise(
    ssh_host: TransportHost, remote: Remote, project: Path, method: str
) -> None:
    for name in [*SECRETS, "train.py", "id_rsa.pub"]:
        _write(project / name, f"{name}\n")
    syncer = _syncer(remote, ssh_host, project, method)
    syncer.push()
    copy = ssh_host.local_root / "proj"
    for name in SECRETS:
        assert not (copy / name).exists(), name
    assert (copy / "train.py").exists() and (copy / "id_rsa.pub").exists()

    (project / ".vpignore").write_text("!.env.local\n!.aws/\n!*.pem\n!id_rsa\n!.envrc\n")
    syncer.push()
    for name in [".env.local", ".aws/credentials", "server.pem", "id_rsa", ".envrc"]:
        assert (copy / name).read_text() == f"{name}\n", name
    for name in [".env", "prod.env", ".netrc", ".ssh/id_rsa", "keys/id_ed25519", "deep/tls.key"]:
        assert not (copy / name).exists(), name
