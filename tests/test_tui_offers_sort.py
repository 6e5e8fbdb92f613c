"""The offers table, k9s style: any column sorted either way, spot vs on-demand, stock,
the by-GPU view side by side and its pick dialog, and the j/k/g/G keys."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from offers_fixtures import make_offer, synthetic_offers
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList
from tui_helpers import running_app, wait_for

from vp_tui.core.models import Offer, Stock
from vp_tui.core.ranking import OFFER_SORTS, cheapest_keys, rank
from vp_tui.tui.screens.create import CreateScreen
from vp_tui.tui.screens.offer_pick import OfferPickScreen
from vp_tui.tui.widgets.offers_table import OfferKind, OffersTable


class Host(App[None]):
    """Mounts one offers table and records what it reports."""

    def __init__(self, offers: Sequence[Offer]) -> None:
        super().__init__()
        self.offers = offers
        self.chosen: list[Offer] = []
        self.kinds: list[OfferKind] = []

    def compose(self) -> ComposeResult:
        yield OffersTable(self.offers)

    def on_mount(self) -> None:
        self.query_one(OffersTable).focus()

    def on_offers_table_offer_chosen(self, message: OffersTable.OfferChosen) -> None:
        self.chosen.append(message.offer)

    def on_offers_table_view_changed(self, message: OffersTable.ViewChanged) -> None:
        self.kinds.append(message.kind)


def lines(table: OffersTable) -> list[str]:
    """The text of every screen line of the table as it would be drawn now."""
    return [table.render_line(y).text for y in range(table.size.height)]


def markers(header: str) -> int:
    return header.count("▲") + header.count("▼")


def messages(app: App[None]) -> list[str]:
    return [n.message for n in app._notifications]


OFFERS = synthetic_offers(600, seed=12)
ON_DEMAND = [o for o in OFFERS if not o.interruptible]

STOCKED = [
    make_offer("runpod", "gone|COMMUNITY", "RTX 4090", 0.30, stock=Stock.NONE, cloud="COMMUNITY"),
    make_offer("runpod", "maybe|SECURE", "RTX 4090", 0.32, stock=None, cloud="SECURE"),
    make_offer("runpod", "ok|SECURE", "RTX 4090", 0.69, stock=Stock.LOW, cloud="SECURE"),
    make_offer("vast", "v1", "RTX 4090", 0.40, reliability=0.99, location="Sweden"),
    make_offer("vast", "v2-bid", "RTX 4090", 0.12, interruptible=True, min_bid=0.12),
    make_offer("vast", "a40", "A40", 0.45, vram=48, reliability=0.97),
    make_offer("runpod", "a40|SECURE", "A40", 0.39, vram=48, stock=Stock.HIGH, cloud="SECURE"),
]


async def test_j_k_g_G_move_the_cursor_in_both_views() -> None:
    app = Host(OFFERS)
    async with app.run_test(size=(140, 30)) as pilot:
        table = app.query_one(OffersTable)
        await pilot.press("j", "j", "j")
        assert table.cursor_row == 3
        await pilot.press("k")
        assert table.cursor_row == 2
        await pilot.press("G")
        assert table.cursor_row == table.visible_count - 1 == len(ON_DEMAND) - 1
        assert table.scroll_y == table.max_scroll_y
        await pilot.press("g")
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("v")
        assert table.grouped
        await pilot.press("G")
        assert table.cursor_row == table.visible_count - 1 > 0
        await pilot.press("k", "g", "j")
        assert table.cursor_row == 1


async def test_default_order_is_per_gpu_hour_and_the_star_leads_each_model() -> None:
    app = Host(OFFERS)
    async with app.run_test(size=(140, 30)) as pilot:
        table = app.query_one(OffersTable)
        header = lines(table)[0]
        assert "▲$/GPU-h" in header and markers(header) == 1
        shown = table.visible_offers()
        assert shown == rank(ON_DEMAND, "per_gpu")
        stars = cheapest_keys(ON_DEMAND)
        first_of_model: dict[str | None, str] = {}
        for offer in shown:
            first_of_model.setdefault(offer.gpu, offer.key)
        assert set(first_of_model.values()) == stars
        top = lines(table)[1]
        assert "★" in top and f"{shown[0].price_per_hour / shown[0].gpu_count:.3f}" in top
        await pilot.press("t", "t")  # all kinds: each kind has its own ★
        assert set(table.visible_offers()) == set(OFFERS)
        first: dict[tuple[str | None, bool], str] = {}
        for offer in table.visible_offers():
            first.setdefault((offer.gpu, offer.interruptible), offer.key)
        assert set(first.values()) == cheapest_keys(OFFERS, by_kind=True)


async def test_s_cycles_every_column_shown_and_S_reverses() -> None:
    app = Host(OFFERS)
    async with app.run_test(size=(200, 30)) as pilot:
        table = app.query_one(OffersTable)
        seen = []
        for _ in OFFER_SORTS:
            await pilot.press("s")
            seen.append(table.sort_key)
            header = lines(table)[0]
            assert markers(header) == 1
            assert table.visible_offers() == rank(ON_DEMAND, table.sort_key)
            assert table.cursor_row == 0
            await pilot.press("S")
            assert table.sort_descending != (table.sort_key in ("vram", "reliability", "stock"))
            assert markers(lines(table)[0]) == 1 and lines(table)[0] != header
            reverse = rank(ON_DEMAND, table.sort_key, table.sort_descending)
            assert table.visible_offers() == reverse
            await pilot.press("S")
        assert sorted(seen) == sorted(OFFER_SORTS) and seen[-1] == "per_gpu"


async def test_s_on_a_narrow_table_cycles_only_the_columns_shown() -> None:
    app = Host(OFFERS)
    async with app.run_test(size=(70, 20)) as pilot:
        table = app.query_one(OffersTable)
        shown = {p.column.sort for p in table._placed}
        assert "location" not in shown
        seen = set()
        for _ in range(len(shown) + 1):
            await pilot.press("s")
            seen.add(table.sort_key)
            assert markers(lines(table)[0]) == 1
        assert seen == shown


async def test_header_click_sorts_and_a_second_click_reverses() -> None:
    app = Host(OFFERS)
    async with app.run_test(size=(140, 30)) as pilot:
        table = app.query_one(OffersTable)

        def x_of(key: str) -> int:
            return next(p.x for p in table._placed if p.column.key == key) + 1

        await pilot.click(OffersTable, offset=(x_of("price"), 0))
        assert (table.sort_key, table.sort_descending) == ("price", False)
        assert "▲$/h" in lines(table)[0]
        await pilot.click(OffersTable, offset=(x_of("price"), 0))
        assert (table.sort_key, table.sort_descending) == ("price", True)
        assert "▼$/h" in lines(table)[0]
        assert table.visible_offers() == rank(ON_DEMAND, "price", True)
        await pilot.click(OffersTable, offset=(x_of("rel"), 0))
        assert (table.sort_key, table.sort_descending) == ("reliability", True)
        await pilot.click(OffersTable, offset=(x_of("vram"), 0))
        top = table.offer_at(0)
        assert top is not None and round(top.vram_gb) == max(round(o.vram_gb) for o in ON_DEMAND)
        shown = [(round(o.vram_gb), o.gpu_count) for o in table.visible_offers()]
        assert shown == sorted(shown, reverse=True)


async def test_unknown_values_stay_last_in_both_directions() -> None:
    app = Host(OFFERS)
    async with app.run_test(size=(140, 30)) as pilot:
        table = app.query_one(OffersTable)
        table.sort_by("reliability")
        await pilot.pause()
        for _ in range(2):
            rels = [o.reliability for o in table.visible_offers()]
            known = [r for r in rels if r is not None]
            assert rels[: len(known)] == known and None in rels
            await pilot.press("S")
        await pilot.press("G")
        last = lines(table)[-1]
        assert "—" in last and "None" not in last


async def test_t_cycles_the_kind_and_a_filter_word_wins() -> None:
    app = Host(OFFERS)
    async with app.run_test(size=(140, 30)) as pilot:
        table = app.query_one(OffersTable)
        assert table.kind == table.shown_kind == "on-demand"
        assert all("on-dem" in line for line in lines(table)[1:])
        await pilot.press("t")
        assert table.kind == "spot" and app.kinds[-1] == "spot"
        assert all(o.interruptible for o in table.visible_offers())
        row = lines(table)[1]
        assert "spot" in row and "≥" in row  # a spot price is the minimum bid
        await pilot.press("t")
        assert table.kind == "all" and table.visible_count == len(OFFERS)
        table.filter_text = "ondemand"
        await pilot.pause()
        assert table.shown_kind == "on-demand" and app.kinds[-1] == "on-demand"
        assert table.visible_count == len(ON_DEMAND)
        await pilot.press("t")  # back to on-demand: the filter still decides
        table.filter_text = "spot"
        await pilot.pause()
        assert table.kind == "on-demand" and table.shown_kind == "spot"
        assert all(o.interruptible for o in table.visible_offers())
        await pilot.press("t")
        assert any("filter" in m for m in messages(app))
        table.filter_text = ""
        await pilot.pause()
        assert table.shown_kind == "spot" == table.kind


async def test_out_of_stock_offers_are_marked_and_not_rentable() -> None:
    app = Host(STOCKED)
    async with app.run_test(size=(140, 14)) as pilot:
        table = app.query_one(OffersTable)
        screen = lines(table)
        assert not any("None" in line for line in screen)
        by_key = {o.key: row for row, o in enumerate(table.visible_offers())}
        gone, maybe = by_key["runpod:gone|COMMUNITY"], by_key["runpod:maybe|SECURE"]
        assert " out " in screen[gone + 1] and " ? " in screen[maybe + 1]
        table.move_cursor(gone)
        await pilot.press("enter")
        assert app.chosen == []
        assert any("is out of stock on RunPod; pick another offer" in m for m in messages(app))
        table.move_cursor(maybe)
        await pilot.press("c")
        assert app.chosen == []
        assert any("stock unknown" in m for m in messages(app))
        await pilot.click(OffersTable, offset=(20, gone + 1), times=2)
        assert app.chosen == []
        vast = by_key["vast:v1"]
        table.move_cursor(vast)
        await pilot.press("enter")
        assert [o.key for o in app.chosen] == ["vast:v1"]  # Vast: no stock figure, rentable


async def test_grouped_view_shows_both_kinds_side_by_side() -> None:
    app = Host(STOCKED)
    async with app.run_test(size=(140, 14)) as pilot:
        table = app.query_one(OffersTable)
        await pilot.press("v")
        screen = lines(table)
        header = screen[0]
        for title in ("Vast $/GPU-h", "Vast spot", "RunPod $/GPU-h", "RunPod spot", "Cheaper"):
            assert title in header
        assert "▲Cheaper" in header and markers(header) == 1
        assert table.visible_count == 2 and not any("None" in line for line in screen)
        row = next(line for line in screen if "RTX 4090" in line)
        assert "0.400" in row and "≥0.120" in row and "0.300" in row
        assert "runpod by 25%" in row  # on-demand compared by default
        await pilot.press("t")  # the kind toggle says spot: spot compared
        assert app.kinds[-1] == "spot"
        row = next(line for line in lines(table) if "RTX 4090" in line)
        assert "only vast" in row
        await pilot.resize_terminal(90, 14)
        await pilot.pause()
        header = lines(table)[0]
        assert "Vast spot" in header and "RunPod spot" in header
        assert "RunPod $/GPU-h" not in header
        await pilot.press("t", "t")  # on-demand again: spot columns go first
        header = lines(table)[0]
        assert "Vast $/GPU-h" in header and "RunPod $/GPU-h" in header
        assert "RunPod spot" not in header


async def test_grouped_sorts_by_its_own_columns_with_the_marker() -> None:
    offers = [*OFFERS, make_offer("vast", "only-vast", "RTX 5090", 0.9, vram=32)]
    app = Host(offers)
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(OffersTable)
        await pilot.press("v")
        runpod = next(p for p in table._placed if p.column.key == "runpod")
        for descending in (False, True):
            await pilot.click(OffersTable, offset=(runpod.x + 1, 0))
            assert (table.group_sort_key, table.group_sort_descending) == ("runpod", descending)
            assert ("▼" if descending else "▲") + "RunPod $/GPU-h" in lines(table)[0]
            rows = table._groups
            assert rows[-1].gpu == "RTX 5090"  # no RunPod price: last both ways
            prices = [r.per_gpu_price("runpod", False) for r in rows[:-1]]
            assert prices == sorted(prices, reverse=descending)  # type: ignore[type-var]
        seen = set()
        for _ in range(8):
            await pilot.press("s")
            seen.add(table.group_sort_key)
            assert markers(lines(table)[0]) == 1
        assert {"gpu", "vram", "vast", "vast_spot", "runpod_spot", "diff", "cheaper"} <= seen
        assert table.sort_key == "per_gpu"  # the flat order is its own
        await pilot.press("S")
        assert table.group_sort_descending != (table.group_sort_key == "vram")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ((), "vast:v1"),  # the cursor starts on the cheapest rentable on-demand offer
        (("j",), "vast:v2-bid"),
        (("j", "j"), "runpod:ok|SECURE"),
    ],
)
async def test_pick_dialog_rents_the_offer_picked(keys: tuple[str, ...], expected: str) -> None:
    app = Host(STOCKED)
    async with app.run_test(size=(140, 30)) as pilot:
        table = app.query_one(OffersTable)
        await pilot.press("v")
        table.move_cursor(next(i for i, g in enumerate(table._groups) if g.gpu == "RTX 4090"))
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, OfferPickScreen)
        assert [o.key for o in screen.offers] == [
            "vast:v1",
            "vast:v2-bid",
            "runpod:gone|COMMUNITY",
            "runpod:ok|SECURE",
        ]
        options = screen.query_one(OptionList)
        assert options.get_option_at_index(2).disabled  # out of stock: listed, not pickable
        assert screen.query_one("#pick-rent").label.plain == "Rent this offer"  # type: ignore[attr-defined]
        assert screen.highlighted_offer is not None
        await pilot.press(*keys, "enter")
        assert not isinstance(app.screen, OfferPickScreen)
        assert [o.key for o in app.chosen] == [expected]


async def test_pick_dialog_escape_rents_nothing() -> None:
    app = Host(STOCKED)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.press("v", "enter")
        assert isinstance(app.screen, OfferPickScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, OfferPickScreen)
        assert app.chosen == []


async def test_on_the_demo_cloud_pick_a_model_and_rent(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=(160, 40)) as (app, pilot, _):
        await wait_for(pilot, app.offers_loaded.is_set, what="offers")
        table = app.query_one("#offers", OffersTable)
        assert table.kind == "on-demand"
        assert all(not o.interruptible for o in table.visible_offers())
        await pilot.press("t")
        assert table.visible_offers() and all(o.interruptible for o in table.visible_offers())
        await pilot.press("t", "t", "v")
        assert table.grouped and "▲Cheaper" in lines(table)[0]
        await pilot.press("enter")
        assert isinstance(app.screen, OfferPickScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateScreen), what="create")
        await pilot.press("escape")
        assert app.focused is table


def test_every_key_has_its_binding_id() -> None:
    bindings = {b.id: b for b in OffersTable.BINDINGS if isinstance(b, Binding)}
    expected = {
        "offers.j": ("j", "cursor_down"),
        "offers.k": ("k", "cursor_up"),
        "offers.top": ("g", "cursor_first"),
        "offers.bottom": ("G", "cursor_last"),
        "offers.group": ("v", "toggle_group"),
        "offers.sort": ("s", "cycle_sort"),
        "offers.reverse": ("S", "reverse_sort"),
        "offers.kind": ("t", "cycle_kind"),
        "offers.details": ("i", "app.offer_details"),
    }
    for binding_id, (key, action) in expected.items():
        binding = bindings[binding_id]
        assert (binding.key, binding.action) == (key, action)
        assert binding.description
    assert not any(
        bindings[i].show for i in ("offers.j", "offers.k", "offers.top", "offers.bottom")
    )
