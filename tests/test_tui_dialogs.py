"""Dialogs and help: help scrolls from the keyboard, every dialog's footer shows its own
keys, and two-button dialogs name their buttons by what they do."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Footer
from textual.widgets._footer import FooterKey
from tui_helpers import running_app, wait_for

from vp_tui.core.models import Instance, InstanceState, Offer
from vp_tui.tui.app import VpApp
from vp_tui.tui.screens.confirm import ConfirmScreen
from vp_tui.tui.screens.create import CreateDefaults, CreateScreen
from vp_tui.tui.screens.destroy import CHECKING, DestroyScreen, Teardown
from vp_tui.tui.screens.help import HelpScreen, HelpScroll
from vp_tui.tui.screens.quit import QuitScreen

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))


def footer_keys(screen: Screen[Any]) -> dict[str, str]:
    """What the dialog's own footer shows: key -> description."""
    footer = screen.query_one(Footer)
    return {key.key: key.description for key in footer.query(FooterKey)}


async def open_dialog(app: VpApp, pilot: Pilot[None], screen: Screen[Any]) -> None:
    app.push_screen(screen)
    await wait_for(pilot, lambda: app.screen is screen and bool(screen.query(FooterKey)))


def buttons(screen: Screen[Any]) -> list[str]:
    return [str(button.label) for button in screen.query(Button)]


# ---------------------------------------------------------------------- help


async def test_help_scrolls_with_the_keyboard_and_has_a_footer(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=(100, 30)) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        scroll = app.screen.query_one(HelpScroll)
        await wait_for(pilot, lambda: scroll.max_scroll_y > 0, what="help taller than the screen")
        assert app.focused is scroll
        assert footer_keys(app.screen)["escape"] == "Close"
        for key in ("down", "j", "pagedown"):
            before = scroll.scroll_y
            await pilot.press(key)
            await wait_for(pilot, lambda: scroll.scroll_y > before, what=key)  # noqa: B023
        for key in ("up", "k", "pageup"):
            await pilot.press("end")
            await wait_for(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y, what="end")
            await pilot.press(key)
            await wait_for(pilot, lambda: scroll.scroll_y < scroll.max_scroll_y, what=key)
        await pilot.press("g")
        await wait_for(pilot, lambda: scroll.scroll_y == 0, what="g: top")
        await pilot.press("G")
        await wait_for(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y, what="G: bottom")
        await pilot.press("home")
        await wait_for(pilot, lambda: scroll.scroll_y == 0, what="home: top")
        await pilot.press("q")
        assert not isinstance(app.screen, HelpScreen)


# ------------------------------------------------------------------- dialogs


async def test_confirm_names_both_buttons_and_its_footer_follows(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        answers: list[bool | None] = []
        screen = ConfirmScreen("Cancel job?", "abc: sleep 60", yes="Cancel job", no="Keep running")
        app.push_screen(screen, answers.append)
        await wait_for(pilot, lambda: app.screen is screen and bool(screen.query(FooterKey)))
        assert buttons(screen) == ["Cancel job (y)", "Keep running (n)"]
        keys = footer_keys(screen)
        assert keys["y"] == "Cancel job" and keys["n"] == "Keep running"
        assert "q" not in keys and "R" not in keys  # the dashboard's keys wait behind it
        await pilot.press("enter")  # the cancel button has the focus
        assert answers == [False]

        plain = ConfirmScreen("Sure?", "body")  # the labels belong to each dialog
        await open_dialog(app, pilot, plain)
        assert buttons(plain) == ["Yes (y)", "Cancel (n)"]
        assert footer_keys(plain) == {"y": "Yes", "n": "Cancel"}
        await pilot.press("escape")


async def test_destroy_quit_and_create_footers_show_their_keys(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        one = DestroyScreen("Destroy?", [Teardown("vast:1", "vast 1", CHECKING)], pull=True)
        await open_dialog(app, pilot, one)
        assert buttons(one) == ["Pull, then destroy (p)", "Destroy (y)", "Keep it (n)"]
        assert footer_keys(one) == {"p": "Pull, then destroy", "y": "Destroy", "n": "Keep it"}
        await pilot.press("escape")

        items = [Teardown(f"vast:{n}", f"vast {n}", CHECKING) for n in (1, 2)]
        two = DestroyScreen("Destroy 2?", items, pull=False)
        await open_dialog(app, pilot, two)
        assert buttons(two) == ["Destroy 2 (y)", "Keep them (n)"]
        assert footer_keys(two) == {"y": "Destroy 2", "n": "Keep them"}
        await pilot.press("n")

        instance = Instance(
            platform="vast",
            instance_id="9",
            gpu="RTX 4090",
            state=InstanceState.RUNNING,
            price_per_hour=0.4,
            observed_at=NOW,
        )
        quit_screen = QuitScreen([instance], [], lambda *_: None)
        await open_dialog(app, pilot, quit_screen)
        assert footer_keys(quit_screen) == {"escape": "Stay", "q": "Quit, leave them running"}
        assert "Stay (esc)" in buttons(quit_screen)
        await pilot.press("escape")
        assert not isinstance(app.screen, QuitScreen)

        offer = Offer(
            platform="vast",
            offer_id="1",
            gpu="RTX 4090",
            gpu_raw="RTX 4090",
            gpu_count=1,
            vram_gb=24,
            price_per_hour=0.4,
        )
        create = CreateScreen(offer, CreateDefaults("pytorch/pytorch", 20, 1.0))
        await open_dialog(app, pilot, create)
        assert footer_keys(create) == {"ctrl+s": "Launch", "escape": "Don't launch"}
        assert buttons(create) == ["Launch (ctrl+s)", "Don't launch (esc)"]
        await pilot.press("escape")
        assert not isinstance(app.screen, CreateScreen)
