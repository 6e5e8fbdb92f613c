"""Shared fixtures: every test runs with its own HOME, config and data directories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_PROVIDER_VARS = ("VAST_API_KEY", "RUNPOD_API_KEY", "VAST_URL", "RUNPOD_API_BASE_URL")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point HOME, XDG dirs and vp-tui's own paths at a temp dir; drop real keys."""
    home = tmp_path / "home"
    home.mkdir()
    for name in list(os.environ):
        if name.startswith("VP_") and name not in {"VP_REQUIRE_SSHD", "VP_SIM_FAULTS"}:
            monkeypatch.delenv(name, raising=False)
    for name in _PROVIDER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    yield home


@pytest.fixture
def cli_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`vp --demo` on a private demo cloud: its own data directory, fast boots, no faults."""
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "0.3")
    monkeypatch.delenv("VP_SIM_FAULTS", raising=False)
