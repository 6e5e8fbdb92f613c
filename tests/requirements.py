"""Outside tools the tests need (rsync, ssh, sshd, git, tmux), and what a missing one means.

``require("rsync", "ssh")`` skips the calling test when a tool is missing on this
machine, or fails it when ``VP_REQUIRE_SSHD=1`` is set: CI installs every tool, so
a skip there would hide a broken set-up behind a green run.

``VP_HIDE_RSYNC=1`` runs the tests as on a machine without rsync: when this module
is first imported, ``PATH`` is replaced by a directory of links to every program
on it except rsync, so vp-tui's syncs go over SFTP. Tests that need rsync skip in
such a run even under ``VP_REQUIRE_SSHD``, because rsync's absence is the point.
The variable is read at import, before the per-test fixtures clear ``VP_*``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = [
    "HIDDEN",
    "SSHD",
    "missing",
    "path_without",
    "require",
    "strict",
    "unavailable",
]

SSHD = Path("/usr/sbin/sshd")
"""The OpenSSH server binary the sshd fixture runs."""

PACKAGES = {
    "rsync": "rsync",
    "ssh": "openssh-client",
    "sshd": "openssh-server",
    "git": "git",
    "tmux": "tmux",
}
"""The Debian package that brings each tool (for the skip message)."""

STRICT_VARIABLE = "VP_REQUIRE_SSHD"
HIDE_RSYNC_VARIABLE = "VP_HIDE_RSYNC"


def strict() -> bool:
    """Whether a missing tool fails the test instead of skipping it (CI)."""
    return os.environ.get(STRICT_VARIABLE, "") not in ("", "0")


def unavailable(reason: str) -> NoReturn:
    """Skip the test because something it needs is missing; fail instead under CI."""
    if strict():
        pytest.fail(f"{STRICT_VARIABLE} is set but {reason}", pytrace=False)
    pytest.skip(reason)


def path_without(names: Collection[str], directory: Path) -> str:
    """A ``PATH`` with every program of the current one except ``names``.

    ``directory`` is filled with links to the programs (the first of a name
    on ``PATH`` wins, as for the shell) and is the whole new ``PATH``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set(names)
    for entry in os.environ.get("PATH", os.defpath).split(os.pathsep):
        try:
            programs = sorted(os.scandir(entry or "."), key=lambda program: program.name)
        except OSError:
            continue
        for program in programs:
            if program.name in seen or not os.access(program.path, os.X_OK):
                continue
            with_dirs_followed = os.path.realpath(program.path)
            if os.path.isdir(with_dirs_followed):
                continue
            seen.add(program.name)
            (directory / program.name).symlink_to(os.path.abspath(program.path))
    return str(directory)


def _hidden_from_environment() -> frozenset[str]:
    if os.environ.get(HIDE_RSYNC_VARIABLE, "") in ("", "0"):
        return frozenset()
    hidden = frozenset({"rsync"})
    shim = Path(tempfile.mkdtemp(prefix="vp-test-path-"))
    atexit.register(shutil.rmtree, shim, ignore_errors=True)
    os.environ["PATH"] = path_without(hidden, shim / "bin")
    if shutil.which("rsync") is not None:  # pragma: no cover - the shim is broken
        raise RuntimeError(f"{HIDE_RSYNC_VARIABLE}=1 but rsync is still on PATH")
    return hidden


HIDDEN: frozenset[str] = _hidden_from_environment()
"""Tools hidden from ``PATH`` on purpose for this run (``VP_HIDE_RSYNC=1``)."""


def missing(tool: str) -> str | None:
    """Why ``tool`` cannot be used here, or None when it can."""
    if tool in HIDDEN:
        return f"{tool} is hidden from PATH for this run ({HIDE_RSYNC_VARIABLE}=1)"
    package = PACKAGES.get(tool, tool)
    if tool == "sshd":
        if SSHD.exists():
            return None
        return f"{SSHD} is not installed (apt-get install {package})"
    if shutil.which(tool) is None:
        return f"{tool} is not installed (apt-get install {package})"
    return None


def require(*tools: str) -> None:
    """Skip the calling test unless every tool is here (fail under ``VP_REQUIRE_SSHD``;
    a tool hidden on purpose by ``VP_HIDE_RSYNC`` always skips)."""
    for tool in tools:
        reason = missing(tool)
        if reason is None:
            continue
        if tool in HIDDEN:
            pytest.skip(reason)
        unavailable(reason)
