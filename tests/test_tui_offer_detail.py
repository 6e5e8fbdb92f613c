"""The offer details on the demo cloud: `i` opens them with the provider's real facts,
Rent this opens the create dialog, and on wide screens a panel follows the cursor."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Footer
from tui_helpers import notifications, running_app, wait_for

from vp_tui.core.models import Offer, Stock
from vp_tui.tui.app import VpApp
from vp_tui.tui.screens.create import CreateScreen
from vp_tui.tui.screens.offer_detail import OfferDetailScreen
from vp_tui.tui.widgets.offer_detail import OfferDetail, OfferDetailPanel, detail_rows
from vp_tui.tui.widgets.offers_table import OffersTable


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))


def shown_text(widget: Widget) -> str:
    """What ``widget`` draws now, line by line."""
    width, height = widget.size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height)))


async def highlight(app: VpApp, pilot: Pilot[None], filter_text: str) -> Offer:
    """Filter the offers and return the highlighted one."""
    await wait_for(pilot, app.offers_loaded.is_set, what="offers")
    table = app.query_one("#offers", OffersTable)
    await pilot.press("/", *filter_text, "enter")
    await wait_for(pilot, lambda: table.filter_text == filter_text and table.visible_count > 0)
    offer = table.cursor_offer
    assert offer is not None
    return offer


async def test_i_shows_the_offer_with_the_providers_facts(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=(120, 50)) as (app, pilot, _):
        offer = await highlight(app, pilot, "vast 4090")
        assert offer.platform == "vast"
        assert offer.cuda_version is not None and offer.driver_version is not None
        assert offer.inet_up_mbps is not None
        await pilot.press("i")
        screen = app.screen
        assert isinstance(screen, OfferDetailScreen) and screen.offer == offer
        assert screen.query(Footer)
        buttons = [str(b.label) for b in screen.query(Button)]
        assert buttons == ["Rent this… (c)", "Close (esc)"]
        await pilot.pause()
        text = shown_text(screen.query_one("#offer-detail-facts", OfferDetail))
        assert "None" not in text
        rows = dict(detail_rows(offer))
        for label in ("Platform", "Offer id", "GPU", "$/GPU-h", "CUDA", "Driver", "Network up"):
            assert label in text
            assert rows[label] in text
        assert "Vast.ai" in text and offer.offer_id in text
        assert f"{offer.cuda_version:g}" in text and offer.driver_version in text
        assert rows["Kind"] == "on-demand"
        for key in ("escape", "q", "i"):
            await pilot.press(key)
            assert not isinstance(app.screen, OfferDetailScreen)
            if key != "i":
                await pilot.press("i")
                assert isinstance(app.screen, OfferDetailScreen)


async def test_runpod_details_say_what_is_not_reported(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=(100, 50)) as (app, pilot, _):
        await highlight(app, pilot, "runpod 4090")
        await pilot.press("i")
        await pilot.pause()
        text = shown_text(app.screen.query_one("#offer-detail-facts", OfferDetail))
        assert "None" not in text
        assert "RunPod" in text and "not reported" in text
        assert "Cloud" in text and ("Secure Cloud" in text or "Community Cloud" in text)


async def test_rent_this_opens_the_create_dialog_for_the_offer(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        offer = await highlight(app, pilot, "vast a100")
        await pilot.press("i", "c")
        assert isinstance(app.screen, CreateScreen) and app.screen.offer == offer
        await pilot.press("escape")
        await pilot.press("i")
        await pilot.click("#rent")
        assert isinstance(app.screen, CreateScreen) and app.screen.offer == offer


async def test_an_out_of_stock_runpod_offer_is_not_rented(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        offer = await highlight(app, pilot, "runpod")
        gone = offer.model_copy(
            update={"stock": Stock.NONE, "gpu_raw": "[b]RTX[/b]", "location": "[red]EU[/]"}
        )
        app.open_offer_details(gone)
        await pilot.pause()
        text = shown_text(app.screen.query_one("#offer-detail-facts", OfferDetail))
        assert "out of stock" in text and "None" not in text
        assert "[b]RTX[/b]" in text and "[red]EU[/]" in text  # provider text is not markup
        await pilot.press("c")
        assert isinstance(app.screen, OfferDetailScreen)
        assert any("out of stock" in n for n in notifications(app))


async def test_wide_screens_show_a_panel_that_follows_the_cursor(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=(180, 45)) as (app, pilot, _):
        first = await highlight(app, pilot, "4090")
        table = app.query_one("#offers", OffersTable)
        await pilot.press("i")
        assert not isinstance(app.screen, OfferDetailScreen)
        panel = app.query_one("#offer-detail-panel", OfferDetailPanel)
        assert panel.offer == first
        await pilot.pause()
        assert first.offer_id in shown_text(panel.query_one(OfferDetail))
        await pilot.press("down")
        second = table.cursor_offer
        assert second is not None and second != first
        await wait_for(pilot, lambda: panel.offer == second, what="panel follows")
        await pilot.pause()
        assert second.offer_id in shown_text(panel.query_one(OfferDetail))
        assert app.focused is table
        await pilot.press("i")
        await wait_for(pilot, lambda: not app.query("#offer-detail-panel"), what="panel closed")
        await pilot.press("i")
        assert app.query("#offer-detail-panel")
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: not app.query("#offer-detail-panel"), what="panel gone")
        await pilot.press("i")
        assert isinstance(app.screen, OfferDetailScreen)
