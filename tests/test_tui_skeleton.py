"""The dashboard starts, shows its mode and quits."""

from __future__ import annotations

from vp_tui.bootstrap import build_context
from vp_tui.tui.app import VpApp


async def test_demo_badge_and_quit() -> None:
    app = VpApp(build_context())
    async with app.run_test() as pilot:
        badge = app.query_one("#mode-badge")
        assert "DEMO" in str(badge.render())
        await pilot.press("q")
    assert app.return_code == 0
