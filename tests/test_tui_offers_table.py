"""The offers table in a small host app: keys, sorting, grouping, filtering, cursor, sizes."""

from __future__ import annotations

from collections.abc import Sequence

from offers_fixtures import make_offer, synthetic_offers
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from vp_tui.core.models import Offer
from vp_tui.core.offer_filter import OfferIndex, parse_filter
from vp_tui.core.ranking import cheapness
from vp_tui.services.market import compare_by_gpu
from vp_tui.tui.widgets.offers_table import OffersTable


class Host(App[None]):
    """Mounts one offers table and records what it reports."""

    def __init__(self, offers: Sequence[Offer] | None = None) -> None:
        super().__init__()
        self.offers = offers
        self.chosen: list[Offer] = []
        self.highlighted: list[Offer | None] = []
        self.views: list[tuple[int, int]] = []

    def compose(self) -> ComposeResult:
        yield OffersTable(self.offers)

    def on_mount(self) -> None:
        self.query_one(OffersTable).focus()

    def on_offers_table_offer_chosen(self, message: OffersTable.OfferChosen) -> None:
        self.chosen.append(message.offer)

    def on_offers_table_offer_highlighted(self, message: OffersTable.OfferHighlighted) -> None:
        self.highlighted.append(message.offer)

    def on_offers_table_view_changed(self, message: OffersTable.ViewChanged) -> None:
        self.views.append((message.visible, message.total))


def lines(table: OffersTable) -> list[str]:
    """The text of every screen line of the table as it would be drawn now."""
    return [table.render_line(y).text for y in range(table.size.height)]


async def loaded(pilot: Pilot[None], offers: Sequence[Offer] | OfferIndex) -> OffersTable:
    table = pilot.app.query_one(OffersTable)
    table.set_offers(offers)
    await pilot.pause()
    return table


async def test_shows_offers_cheapest_first_with_a_fixed_header() -> None:
    offers = synthetic_offers(2000)
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(OffersTable)
        assert "Loading offers…" in lines(table)[1]
        table = await loaded(pilot, offers)
        on_demand = [o for o in offers if not o.interruptible]
        assert table.visible_count == len(on_demand) and table.total_count == 2000
        assert app.views[-1] == (len(on_demand), 2000)
        header, first = lines(table)[:2]
        for title in ("Platform", "GPU", "GPUs", "VRAM", "$/h", "$/GPU-h", "$/TFLOP-h", "Rel"):
            assert title in header
        cheapest = min(on_demand, key=cheapness)
        assert table.cursor_offer == cheapest
        assert f"{cheapest.price_per_hour / cheapest.gpu_count:.3f}" in first
        assert app.highlighted[-1] == cheapest
        await pilot.press("pagedown", "pagedown")
        assert lines(table)[0] == header
        assert sum("★" in line for line in lines(table)) <= 8


async def test_cursor_keys() -> None:
    app = Host(synthetic_offers(2000))
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(OffersTable)
        page = table.size.height - 1
        await pilot.press("down", "down")
        assert table.cursor_row == 2
        await pilot.press("up")
        assert table.cursor_row == 1
        await pilot.press("pagedown")
        assert table.cursor_row == 1 + page
        assert table.scroll_y == page
        await pilot.press("pageup")
        assert table.cursor_row == 1
        await pilot.press("end")
        end = table.visible_count - 1
        assert table.cursor_row == end
        assert table.scroll_y == table.max_scroll_y
        last = table.offer_at(end)
        assert last is not None and table.cursor_offer == last
        assert f"{last.price_per_hour:.2f}" in lines(table)[-1]
        await pilot.press("down")
        assert table.cursor_row == end
        await pilot.press("home", "up")
        assert table.cursor_row == 0
        assert table.scroll_y == 0
        assert app.highlighted[-1] == table.offer_at(0)


async def test_s_cycles_sort_and_the_top_row_follows() -> None:
    offers = synthetic_offers(2000)
    on_demand = [o for o in offers if not o.interruptible]
    app = Host(offers)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(OffersTable)
        assert table.sort_key == "per_gpu"
        await pilot.press("s")
        assert table.sort_key == "value"
        best_value = min(o.dollars_per_tflop_hour or 1e9 for o in on_demand)
        assert table.offer_at(0).dollars_per_tflop_hour == best_value
        assert "▲$/TFLOP-h" in lines(table)[0]
        await pilot.press("s")
        assert table.sort_key == "reliability"
        assert table.offer_at(0).reliability == max(o.reliability or 0 for o in on_demand)
        assert "▼Rel" in lines(table)[0]
        seen = []
        while table.sort_key != "per_gpu":
            await pilot.press("s")
            seen.append(table.sort_key)
            assert table.cursor_row == 0
        assert "vram" in seen and "price" in seen and "platform" in seen


async def test_v_groups_by_gpu_and_back() -> None:
    offers = synthetic_offers(2000)
    app = Host(offers)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(OffersTable)
        await pilot.press("down", "down", "down")
        assert table.cursor_offer is not None
        gpu = table.cursor_offer.gpu
        await pilot.press("v")
        assert table.grouped
        comparison = compare_by_gpu(offers)
        assert table.visible_count == len(comparison)
        screen = lines(table)
        for title in ("GPU", "Vast $/GPU-h", "Vast spot", "RunPod $/GPU-h", "Difference"):
            assert title in screen[0]
        assert comparison[0].gpu in screen[1]
        assert table.cursor_offer is not None and table.cursor_offer.gpu == gpu
        assert not table.cursor_offer.interruptible  # like is compared with like
        table.filter_text = "spot"
        await pilot.pause()
        spot = compare_by_gpu(offers, interruptible=True)
        assert table.visible_count == len(spot)
        assert all(offer.interruptible for offer in table.visible_offers())
        table.filter_text = ""
        await pilot.pause()
        await pilot.press("v")
        assert not table.grouped
        assert table.visible_count == sum(not o.interruptible for o in offers)
        assert table.cursor_offer is not None and table.cursor_offer.gpu == gpu
        assert "Platform" in lines(table)[0]


async def test_filter_narrows_rows() -> None:
    offers = synthetic_offers(2000)
    app = Host(offers)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(OffersTable)
        table.filter_text = "4090 <0.5"
        await pilot.pause()
        flt = parse_filter("4090 <0.5 ondemand")
        expected = [o for o in offers if flt.matches(o)]
        assert 0 < table.visible_count == len(expected) < 2000
        assert table.total_count == 2000
        visible = table.visible_offers()
        assert all(o.gpu == "RTX 4090" and o.price_per_hour < 0.5 for o in visible)
        assert sorted(o.key for o in visible) == sorted(o.key for o in expected)
        assert app.views[-1] == (len(expected), 2000)
        assert all("RTX 4090" in line for line in lines(table)[1 : 1 + len(expected)])
        table.filter_text = "4090 <0.01"
        await pilot.pause()
        assert table.visible_count == 0
        assert table.cursor_offer is None
        assert "No offers match `4090 <0.01`" in lines(table)[1]
        assert app.highlighted[-1] is None
        await pilot.press("enter", "down", "end")
        assert app.chosen == []
        table.filter_text = ""
        await pilot.pause()
        assert table.visible_count == sum(not o.interruptible for o in offers)


async def test_enter_and_c_choose_the_highlighted_offer() -> None:
    offers = synthetic_offers(2000)
    app = Host(offers)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(OffersTable)
        await pilot.press("down", "down", "enter")
        assert app.chosen == [table.offer_at(2)]
        await pilot.press("down", "c")
        assert app.chosen[-1] == table.offer_at(3)
        await pilot.press("v", "home", "enter", "enter")
        cheapest_model = compare_by_gpu(offers)[0]
        choice = app.chosen[-1]
        assert choice.gpu == cheapest_model.gpu
        assert not choice.interruptible
        assert choice.price_per_hour / choice.gpu_count == min(
            o.price_per_hour / o.gpu_count
            for o in offers
            if o.gpu == cheapest_model.gpu and not o.interruptible
        )


async def test_cursor_stays_on_its_offer_across_refreshes() -> None:
    offers = synthetic_offers(2000, seed=5)
    app = Host(offers)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(OffersTable)
        await pilot.press("pagedown", *["down"] * 5)
        before = table.cursor_offer
        assert before is not None
        screen_row = table.cursor_row - round(table.scroll_y)
        # same ids, new prices: the order changes
        repriced = synthetic_offers(2000, seed=5, price_scale=1.0)
        repriced = [
            o.model_copy(update={"price_per_hour": o.price_per_hour * (1.5 if i % 3 else 0.7)})
            for i, o in enumerate(repriced)
        ]
        table.set_offers(list(reversed(repriced)))
        await pilot.pause()
        after = table.cursor_offer
        assert after is not None and after.key == before.key
        assert after.price_per_hour != before.price_per_hour
        assert table.cursor_row != 34
        # the row keeps its place on the screen as far as scrolling allows
        assert table.cursor_row - round(table.scroll_y) == min(screen_row, table.cursor_row)
        assert app.highlighted[-1] == after
        # the offer vanishes: the cursor stays on the same row number
        row = table.cursor_row
        table.set_offers([o for o in repriced if o.key != before.key])
        await pilot.pause()
        assert table.cursor_row == row
        assert table.cursor_offer is not None and table.cursor_offer.key != before.key


async def test_filter_keeps_a_still_matching_offer() -> None:
    offers = synthetic_offers(2000)
    app = Host(offers)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(OffersTable)
        await pilot.press(*["down"] * 5)
        chosen = table.cursor_offer
        assert chosen is not None and chosen.gpu is not None
        table.filter_text = chosen.gpu
        await pilot.pause()
        assert table.cursor_offer == chosen
        table.filter_text = f"{chosen.gpu} -{chosen.platform}"
        await pilot.pause()
        assert table.cursor_row == 0


async def test_mouse_click_selects_and_header_click_sorts() -> None:
    app = Host(synthetic_offers(500))
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(OffersTable)
        await pilot.click(OffersTable, offset=(20, 4))
        assert table.cursor_row == 3
        await pilot.click(OffersTable, offset=(20, 4), times=2)
        assert app.chosen == [table.offer_at(3)]
        vram = next(p for p in table._placed if p.column.key == "vram")
        await pilot.click(OffersTable, offset=(vram.x + 1, 0))
        assert table.sort_key == "vram"


async def test_narrow_terminal_keeps_the_essentials() -> None:
    app = Host(synthetic_offers(2000))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(OffersTable)
        header = lines(table)[0]
        for title in ("Platform", "GPU", "$/h"):
            assert title in header
        assert all(len(line) <= 80 for line in lines(table))
        await pilot.press("pagedown", "end", "s", "v", "down", "v", "home")
        assert "GPU" in lines(table)[0]
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        assert "$/h" in lines(table)[0]
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert "Stock" in lines(table)[0]


async def test_twenty_thousand_offers_render_a_page() -> None:
    offers = synthetic_offers(20_000, seed=9)
    app = Host()
    async with app.run_test(size=(160, 48)) as pilot:
        table = await loaded(pilot, OfferIndex(offers))
        assert table.total_count == 20_000
        screen = lines(table)
        assert all(line.strip() for line in screen)
        await pilot.press("pagedown", "end")
        assert table.cursor_row == table.visible_count - 1
        assert lines(table)[-1].strip()
        table.filter_text = "h100 x8 vast"
        await pilot.pause()
        assert table.visible_count == sum(
            o.gpu == "H100 SXM"
            and o.gpu_count == 8
            and o.platform == "vast"
            and not o.interruptible
            for o in offers
        )


async def test_unknown_gpus_show_raw_names_and_are_left_out_of_grouping() -> None:
    offers = [
        make_offer("vast", "1", None, 0.1, raw="Mystery_GPU"),
        make_offer("vast", "2", "RTX 4090", 0.3),
        make_offer("runpod", "3", "RTX 4090", 0.4),
    ]
    app = Host(offers)
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(OffersTable)
        assert "Mystery_GPU" in lines(table)[1]
        await pilot.press("v")
        assert table.visible_count == 1
        assert "vast by 25%" in lines(table)[1]
        table.set_offers([offers[0]])
        await pilot.pause()
        assert "No offers of a known GPU model to compare" in lines(table)[1]
