"""Start-up: the dashboard paints before the engine exists, then fills in; a bad config
file ends the app with one clear line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tui_helpers import wait_for

from vp_tui import locations
from vp_tui.tui.app import VpApp


async def test_paints_first_then_loads_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    app = VpApp(demo=True, project=tmp_path)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            assert app.context is None  # the layout is up before any engine work
            assert app.query_one("#offers-loading") is not None
            await wait_for(pilot, lambda: app.context is not None, what="engine")
            assert str(app.query_one("#mode-badge").render()) == "DEMO"
            await wait_for(pilot, app.offers_loaded.is_set, what="offers")
            assert app.focused is not None and app.focused.id == "offers"
            await pilot.press("q")
    finally:
        app.close_engine()
    assert app.return_code == 0


async def test_bad_config_exits_with_status_2() -> None:
    path = locations.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[vast]\nmax_price_per_hour = 'lots'\n")
    app = VpApp(project=Path.cwd())
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.return_code is not None, what="exit")
    assert app.return_code == 2


def test_version_needs_no_config() -> None:
    """`vp-tui --version` answers even when the config file is broken (it reads none)."""
    path = locations.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[general\n")
    result = subprocess.run(
        [sys.executable, "-m", "vp_tui", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("vp-tui ")
