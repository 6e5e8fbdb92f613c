"""The create dialog says what renting costs, checks the cap and the bid in place,
and rents only on a deliberate key: on the demo cloud, through the real SDKs."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static
from tui_helpers import running_app, wait_for

from vp_tui.core.launch_price import per_day
from vp_tui.core.money import format_duration, format_money, format_price
from vp_tui.tui.app import VpApp
from vp_tui.tui.screens.create import CreateScreen


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))


async def open_dialog(app: VpApp, pilot: Pilot[None], search: str) -> CreateScreen:
    """The create dialog for the first offer matching ``search``, balances known."""
    await wait_for(pilot, app.offers_loaded.is_set, what="offers")
    await wait_for(pilot, lambda: {"vast", "runpod"} <= set(app.state.accounts), what="balances")
    await pilot.press("slash", *search, "enter", "enter")
    assert isinstance(app.screen, CreateScreen)
    return app.screen


def text(screen: CreateScreen, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}", Static).render())


async def retype(pilot: Pilot[None], screen: CreateScreen, widget_id: str, value: str) -> None:
    field = screen.query_one(f"#{widget_id}", Input)
    field.focus()
    await pilot.press("end", *["backspace"] * len(field.value), *value)


def launch_disabled(screen: CreateScreen) -> bool:
    return screen.query_one("#launch", Button).disabled


def rented(app: VpApp) -> list[str]:
    return [i.instance_id for i in app.engine.fleet.list().instances]


async def test_price_per_day_and_balance_follow_the_gpu_count(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        screen = await open_dialog(app, pilot, "runpod a4000")
        offer = screen.offer
        assert offer.max_gpu_count is not None and offer.max_gpu_count >= 2
        balance = app.state.accounts["runpod"].balance
        assert balance is not None
        one = offer.price_per_hour
        price = text(screen, "create-price")
        assert format_price(one) in price and f"{format_money(per_day(one))}/day" in price
        lasts = format_duration(balance / one * 3600)
        assert text(screen, "create-balance") == (
            f"Balance on runpod: {format_money(balance)}, lasts {lasts} at this price"
        )
        assert "ctrl+s launches" in text(screen, "dialog-hint")

        await retype(pilot, screen, "gpus", "2")
        two = one * 2
        assert "for 2 GPUs" in text(screen, "create-price")
        assert f"{format_money(per_day(two))}/day" in text(screen, "create-price")
        lasts = format_duration(balance / two * 3600)
        assert f"lasts {lasts}" in text(screen, "create-balance")

        await retype(pilot, screen, "gpus", str(offer.max_gpu_count + 1))
        assert "Choose 1 to" in text(screen, "gpus-error") and launch_disabled(screen)


async def test_bid_below_minimum_and_price_above_cap_are_said_in_place(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        screen = await open_dialog(app, pilot, "vast spot")
        offer = screen.offer
        assert offer.interruptible and offer.min_bid
        assert not launch_disabled(screen)
        assert not screen.query_one("#bid-error", Static).display

        await retype(pilot, screen, "bid", f"{offer.min_bid / 2:.4f}")
        assert text(screen, "bid-error") == (
            f"Below the minimum bid of {format_price(offer.min_bid, 4)}/h."
        )
        assert screen.query_one("#bid-error", Static).display and launch_disabled(screen)
        await pilot.press("ctrl+s")
        assert app.screen is screen  # nothing rented, the dialog stays

        bid = round(offer.min_bid * 2 + 0.01, 4)
        await retype(pilot, screen, "bid", f"{bid}")
        assert not screen.query_one("#bid-error", Static).display
        storage = offer.price_per_hour - offer.min_bid  # what the bid does not cover
        price = bid + storage
        assert f"{format_price(price)}/h (your bid + storage)" in text(screen, "create-price")
        assert f"{format_money(per_day(price))}/day" in text(screen, "create-price")

        await retype(pilot, screen, "cap", "0.01")
        assert text(screen, "cap-error") == f"{format_price(price)}/h is above the cap of $0.01/h."
        assert launch_disabled(screen)
        assert "--" not in text(screen, "cap-error") + text(screen, "bid-error")
        await retype(pilot, screen, "cap", "5")
        assert not launch_disabled(screen) and not screen.query_one("#cap-error", Static).display
        await pilot.press("escape")
        assert not isinstance(app.screen, CreateScreen)
        assert rented(app) == []


async def test_enter_in_a_field_moves_on_and_ctrl_s_rents(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        screen = await open_dialog(app, pilot, "runpod a4000")
        await pilot.press("enter")
        assert app.screen is screen
        assert app.focused is screen.query_one("#disk", Input)
        for _ in range(6):  # through every field: enter never rents
            await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.screen is screen
        assert app.focused is screen.query_one("#launch", Button)
        assert rented(app) == []

        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, CreateScreen)
        await wait_for(pilot, lambda: len(rented(app)) == 1, what="the instance")


async def test_enter_on_the_launch_button_rents(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        screen = await open_dialog(app, pilot, "runpod a4000")
        screen.query_one("#launch", Button).focus()
        await pilot.press("enter")
        assert not isinstance(app.screen, CreateScreen)
        await wait_for(pilot, lambda: len(rented(app)) == 1, what="the instance")


async def test_a_max_lifetime_is_checked_in_place_and_arms_the_watchdog(tmp_path: Path) -> None:
    from tui_helpers import notifications

    async with running_app(tmp_path) as (app, pilot, cloud):
        screen = await open_dialog(app, pilot, "vast 3090 x1")
        await retype(pilot, screen, "lifetime", "soon")
        assert "like 45m, 8h or 1h30m" in text(screen, "lifetime-error")
        assert launch_disabled(screen)
        await retype(pilot, screen, "lifetime", "1h")
        assert not launch_disabled(screen)
        await pilot.press("ctrl+s")
        await wait_for(
            pilot,
            lambda: any("will destroy itself in 1h" in n for n in notifications(app)),
            what="the watchdog armed",
        )
        (instance_id,) = rented(app)
        stored = cloud.cloud.get("vast", instance_id)
        assert stored is not None
        watchdog = cloud.cloud.sandbox_dir(stored).parent / f"{stored.platform}-{stored.id}.home"
        assert (watchdog / ".vp" / "watchdog" / "config.json").exists()
