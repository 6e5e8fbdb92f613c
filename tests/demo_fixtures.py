"""A demo cloud and an engine context on it, for tests of the services and faces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vp_tui.bootstrap import Context, build_context
from vp_tui.sim.server import DemoCloud


@pytest.fixture
def demo_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoCloud]:
    """A running demo cloud with fast boots and its own state."""
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VP_SIM_FAULTS", raising=False)
    with DemoCloud(tmp_path / "data" / "demo", boot_seconds=0.3, faults="") as cloud:
        yield cloud


@pytest.fixture
def context(demo_cloud: DemoCloud) -> Iterator[Context]:
    """The engine on the demo cloud, as `vp --demo` builds it."""
    ctx = build_context(demo_cloud=demo_cloud)
    yield ctx
    ctx.close()
