"""The platforms pane moves with j/k too, and no way into the create dialog rents an
offer that cannot be rented."""

from __future__ import annotations

from pathlib import Path

from tests.offers_fixtures import make_offer
from tests.tui_helpers import running_app, wait_for
from vp_tui.core.models import Stock
from vp_tui.tui.screens.create import CreateScreen
from vp_tui.tui.widgets.platforms_pane import PlatformsPane


async def test_platforms_pane_moves_with_j_and_k(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        await pilot.press("1")
        pane = app.query_one(PlatformsPane)
        assert pane.cursor == 0
        await pilot.press("j")
        assert pane.cursor == 1
        await pilot.press("k")
        assert pane.cursor == 0


async def test_an_out_of_stock_offer_never_reaches_the_create_dialog(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set)
        notes: list[str] = []
        shown = app.notify

        def record(message: str, **kwargs: object) -> None:
            notes.append(message)
            shown(message, **kwargs)  # type: ignore[arg-type]

        app.notify = record  # type: ignore[method-assign]
        for stock in (Stock.NONE, None):
            app.open_create(
                make_offer("runpod", "NVIDIA GeForce RTX 4090", "RTX 4090", 0.69, stock=stock)
            )
            await pilot.pause()
            assert not isinstance(app.screen, CreateScreen)
        assert any("out of stock on RunPod" in note for note in notes)
        assert any("stock unknown on RunPod" in note for note in notes)
        app.open_create(
            make_offer("runpod", "NVIDIA GeForce RTX 4090", "RTX 4090", 0.69, stock=Stock.HIGH)
        )
        await wait_for(pilot, lambda: isinstance(app.screen, CreateScreen))
        await pilot.pause()
        await pilot.press("escape")
