"""Snapshots of the dashboard's main states at 80x24, 120x36, 160x48 and 200x60.

Each scene runs on a private demo cloud whose clock stands still (seeded market,
same instances, same job), so a changed picture means a changed screen. Update
with `pytest tests/test_tui_snapshots.py --snapshot-update` only after looking
at the report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scenes import SCENES, run_before, scene_app


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """'Today' starts at midnight UTC whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    "size", [(80, 24), (120, 36), (160, 48), (200, 60)], ids=["80x24", "120x36", "160x48", "200x60"]
)
@pytest.mark.parametrize("name", list(SCENES))
def test_scene(
    name: str,
    size: tuple[int, int],
    snap_compare: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    scene = SCENES[name]
    app = scene_app(scene, tmp_path / "scene")
    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before(scene, app))  # type: ignore[operator]
    finally:
        app.close_engine()
