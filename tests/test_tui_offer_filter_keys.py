"""The offer filter line on the demo cloud: keys after `/` land in it, escape leaves and
clears it, up/down recall earlier filters (kept across restarts), odd tokens are named."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import running_app, wait_for

from vp_tui.tui.widgets.filter_input import FilterInput, FilterNote
from vp_tui.tui.widgets.offers_table import OffersTable


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))


@pytest.mark.parametrize("size", [(140, 40), (80, 24)])
async def test_keys_typed_right_after_slash_land_in_the_filter(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running_app(tmp_path, size=size) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set, what="offers")
        table = app.query_one("#offers", OffersTable)
        line = app.query_one("#offer-filter", FilterInput)
        await pilot.press("/", "4", "0", "9", "0")
        assert line.value == "4090"
        assert app.focused is line
        assert app.focused_pane() == "offers"
        await wait_for(pilot, lambda: table.filter_text == "4090")
        await pilot.press("enter")
        assert app.focused is table
        await pilot.press("/", "ctrl+u", "h", "1", "0", "0")
        assert line.value == "h100"
        await wait_for(pilot, lambda: table.filter_text == "h100")
        assert table.visible_count > 0
        assert all(o.gpu is not None and "H100" in o.gpu for o in table.visible_offers())


async def test_escape_leaves_the_filter_and_a_second_escape_clears_it(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set, what="offers")
        table = app.query_one("#offers", OffersTable)
        line = app.query_one("#offer-filter", FilterInput)
        total = table.visible_count
        await pilot.press("/", *"4090")
        await wait_for(pilot, lambda: table.visible_count < total)
        await pilot.press("escape")
        assert app.focused is table
        assert line.value == "4090" and table.filter_text == "4090"
        await pilot.press("down")  # the table has the keys now
        assert line.value == "4090"
        await pilot.press("escape")
        assert line.value == ""
        await wait_for(pilot, lambda: table.visible_count == total)
        assert app.focused is table
        # Both at once, straight from the filter.
        await pilot.press("/", *"a100", "escape", "escape")
        assert line.value == "" and app.focused is table
        # Escape in an empty filter just leaves it; escape in the table then does nothing.
        await pilot.press("/", "escape", "escape")
        assert app.focused is table and line.value == ""


async def test_up_and_down_recall_earlier_filters_across_a_restart(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set, what="offers")
        line = app.query_one("#offer-filter", FilterInput)
        await pilot.press("/", *"4090 <0.5", "enter")
        await pilot.press("/", "ctrl+u", *"h100", "escape")
        await pilot.press("/", "ctrl+u", *"a6000")
        await pilot.press("up")
        assert line.value == "h100"
        await pilot.press("up")
        assert line.value == "4090 <0.5"
        await pilot.press("up")  # the oldest stays
        assert line.value == "4090 <0.5"
        await pilot.press("down", "down")
        assert line.value == "a6000"  # past the newest: what was being typed
        await pilot.press("down")
        assert line.value == "a6000"
        await pilot.press("escape")

    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set, what="offers")
        line = app.query_one("#offer-filter", FilterInput)
        await pilot.click("#offer-filter")  # focused by the mouse this time
        await wait_for(pilot, lambda: line.history_loaded, what="history read")
        await pilot.press("up")
        assert line.value == "a6000"
        await pilot.press("up", "up")
        assert line.value == "4090 <0.5"
        await pilot.press("down")
        assert line.value == "h100"
        # An edited recall is a new draft: up starts again from the newest.
        await pilot.press("backspace", "up")
        assert line.value == "a6000"


async def test_tokens_the_filter_does_not_understand_are_named(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set, what="offers")
        note = app.query_one("#offer-filter-note", FilterNote)
        assert not note.display or not note.has_class("-shown")
        await pilot.press("/", *"4090 <abc")
        await pilot.pause()
        assert note.has_class("-shown")
        assert note.message == "not understood: <abc"
        assert "not understood: <abc" in note.render_line(0).text
        await pilot.press("ctrl+u", *"a100 <0,3")
        await pilot.pause()
        assert note.message == "not understood: <0,3"
        await pilot.press("ctrl+u", *"a100 <2 vram>=40")
        await pilot.pause()
        assert not note.has_class("-shown") and not note.message
