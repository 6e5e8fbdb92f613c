"""The offers and instances panes say how old their rows are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.tui_helpers import running_app, wait_for
from vp_tui.core.models import PlatformStatus
from vp_tui.tui.freshness import age_text, offers_as_of

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_age_text() -> None:
    assert age_text(None, NOW) == ""
    assert age_text(NOW - timedelta(seconds=1), NOW) == "updated just now"
    assert age_text(NOW + timedelta(seconds=5), NOW) == "updated just now"  # clock skew
    assert age_text(NOW - timedelta(seconds=12), NOW) == "updated 12s ago"
    assert age_text(NOW - timedelta(minutes=5, seconds=3), NOW) == "updated 5m 03s ago"


def test_a_failed_platform_makes_the_offers_as_old_as_its_kept_rows() -> None:
    fresh = PlatformStatus(platform="vast", ok=True, checked_at=NOW)
    stale = PlatformStatus(
        platform="runpod",
        ok=False,
        error="HTTP 500",
        stale_since=NOW - timedelta(minutes=7),
        checked_at=NOW,
    )
    nothing = PlatformStatus(platform="runpod", ok=False, error="HTTP 500", checked_at=NOW)
    assert offers_as_of([fresh, stale]) == NOW - timedelta(minutes=7)
    assert offers_as_of([fresh, nothing]) == NOW
    assert offers_as_of([nothing]) is None


async def test_pane_titles_say_how_old_the_rows_are(tmp_path: Path) -> None:
    async with running_app(tmp_path, refresh_seconds=3600, fleet_seconds=3600) as (app, pilot, _):
        await wait_for(pilot, lambda: app.offers_loaded.is_set() and app.fleet_loaded.is_set())
        await pilot.pause()
        offers = app.query_one("#offers-pane")
        instances = app.query_one("#instances-pane")
        assert str(offers.border_title).startswith("2 Offers · updated ")
        assert str(instances.border_title).startswith("3 Instances · updated ")

        later = datetime.now(UTC) + timedelta(minutes=2)
        app.clock = lambda: later
        app.show_freshness()
        assert "updated 2m" in str(offers.border_title)
        assert "updated 2m" in str(instances.border_title)
