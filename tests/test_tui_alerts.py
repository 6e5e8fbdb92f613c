"""The dashboard's alerts: a price filter that starts matching and a balance that drops
low are each told once, not on every poll; the low balance shows in the warning colour."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tui_helpers import notifications, running_app, wait_for

from vp_tui.config import AlertSettings, Settings
from vp_tui.core.models import Account, PlatformName
from vp_tui.core.offer_filter import OfferIndex


def alerts(**values: object) -> Callable[[Settings], Settings]:
    def configure(settings: Settings) -> Settings:
        return settings.model_copy(update={"alerts": AlertSettings.model_validate(values)})

    return configure


async def test_a_price_alert_fires_once(tmp_path: Path) -> None:
    configure = alerts(prices=["rtx 4090 <0.5", "h100 <0.001", "h100 <abc"])
    async with running_app(tmp_path, refresh_seconds=0.5, configure=configure) as (app, pilot, _):
        checks: list[int] = []
        original = app.check_price_alerts

        def counted(index: OfferIndex) -> None:
            checks.append(len(index))
            original(index)

        app.check_price_alerts = counted  # type: ignore[method-assign]
        await wait_for(pilot, lambda: len(checks) >= 3, what="three offer refreshes")
        said = [n for n in notifications(app) if n.startswith("Price alert")]
        hits = [n for n in said if n.startswith("Price alert: ")]
        assert len(hits) == 1, said
        assert hits[0].startswith("Price alert: rtx 4090 <0.5: RTX 4090 on ")
        assert hits[0].endswith("/h")
        ignored = [n for n in said if n.startswith("Price alert ignored")]
        assert len(ignored) == 1 and "`<abc`" in ignored[0]


async def test_a_low_balance_is_told_once_and_shown_in_warning_colour(tmp_path: Path) -> None:
    configure = alerts(balance_below_usd=30)
    async with running_app(tmp_path, accounts_seconds=0.5, configure=configure) as (app, pilot, _):
        readings: list[int] = []
        original = app.check_balances

        def counted(accounts: dict[PlatformName, Account]) -> None:
            readings.append(len(accounts))
            original(accounts)

        app.check_balances = counted  # type: ignore[method-assign]
        await wait_for(pilot, lambda: len(readings) >= 3, what="three balance readings")
        low = [n for n in notifications(app) if n.startswith("Low balance")]
        assert sorted(low) == [
            "Low balance: RunPod balance $25.00 is below $30.00",
            "Low balance: Vast.ai balance $25.00 is below $30.00",
        ]
        pane = app.platforms_pane
        assert pane is not None and pane.balance_below == 30
        warning = pane.get_component_rich_style("platforms-pane--stale")
        for view in pane.views.values():
            line = pane._money(view)
            assert line.plain.startswith("balance $25.00")
            assert any(span.style == warning for span in line.spans)


async def test_no_alerts_without_settings(tmp_path: Path) -> None:
    async with running_app(tmp_path, accounts_seconds=0.5) as (app, pilot, _):
        await wait_for(pilot, lambda: app.state.balance_alerts is not None, what="balances")
        await wait_for(pilot, lambda: app.state.price_alerts is not None, what="offers")
        said = notifications(app)
        assert not [n for n in said if n.startswith(("Low balance", "Price alert"))]
        pane = app.platforms_pane
        assert pane is not None
        warning = pane.get_component_rich_style("platforms-pane--stale")
        for view in pane.views.values():
            assert not any(span.style == warning for span in pane._money(view).spans)
