"""The offers table: every offer of both markets, filtered, sorted and grouped, drawn line by line.

Only the rows on screen are ever rendered (Textual's line API: ``render_line`` per
screen line, ``virtual_size`` for the scrollbar), so 20,000 offers cost what one page
costs. Filtering and sorting run over an :class:`~vp_tui.core.offer_filter.OfferIndex`
prepared once per :meth:`OffersTable.set_offers`; rendered rows are cached as Strips
and dropped whenever the view, the width or the theme changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from vp_tui.core.gpus import gpu_spec
from vp_tui.core.models import Offer
from vp_tui.core.offer_filter import OfferFilter, OfferIndex, parse_filter
from vp_tui.core.ranking import SORTS, GpuComparison, OfferSort, compare_by_gpu, rank_comparisons

Align = Literal["left", "right"]


@dataclass(frozen=True, slots=True)
class _Column:
    key: str
    title: str
    width: int
    """Narrowest width; the column is dropped rather than squeezed below it."""
    max_width: int
    """Widest width a flexible column grows to (== width for fixed columns)."""
    align: Align
    priority: int
    """0 is always shown; higher numbers are dropped first when the table is narrow."""
    sort: OfferSort | None = None
    """The sort a click on the header selects."""


FLAT_COLUMNS: tuple[_Column, ...] = (
    _Column("platform", "Platform", 8, 8, "left", 0),
    _Column("gpu", "GPU", 12, 28, "left", 0),
    _Column("gpus", "GPUs", 4, 4, "right", 2),
    _Column("vram", "VRAM", 6, 6, "right", 1, "vram"),
    _Column("price", "$/h", 7, 7, "right", 0, "price"),
    _Column("value", "$/TFLOP-h", 10, 10, "right", 3, "value"),
    _Column("rel", "Rel", 6, 6, "right", 5, "reliability"),
    _Column("location", "Location", 10, 24, "left", 4),
    _Column("stock", "Stock", 6, 6, "left", 6),
    _Column("spot", "Spot", 4, 4, "left", 2),
)
"""The columns of the offer list, in display order."""

GROUPED_COLUMNS: tuple[_Column, ...] = (
    _Column("gpu", "GPU", 12, 28, "left", 0),
    _Column("vram", "VRAM", 6, 6, "right", 2, "vram"),
    _Column("vast", "Vast $/GPU-h", 12, 12, "right", 0, "price"),
    _Column("runpod", "RunPod $/GPU-h", 14, 14, "right", 0, "price"),
    _Column("diff", "Difference", 10, 10, "right", 1),
    _Column("cheaper", "Cheaper", 14, 14, "left", 1),
    _Column("trend", "7 days", 12, 12, "left", 3),
)
"""The columns of the by-GPU comparison, in display order."""

_FLAT_INDEX = {column.key: i for i, column in enumerate(FLAT_COLUMNS)}
_GROUP_INDEX = {column.key: i for i, column in enumerate(GROUPED_COLUMNS)}
_MISSING = "—"
_MARK = "★ "
_NO_MARK = "  "
_SORT_MARK = "▼"

CellKind = Literal["", "dim", "cheapest", "spot"]
"""How a cell is styled beyond its row: normal, muted, the cheapest mark, interruptible."""


@dataclass(frozen=True, slots=True)
class _Placed:
    column: _Column
    x: int
    width: int


def _fit(text: str, width: int, align: Align) -> str:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` cells."""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    if length == width:
        return text
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


def _layout(columns: Sequence[_Column], width: int, natural: dict[str, int]) -> list[_Placed]:
    """Which columns fit in ``width`` cells, and where: low-priority ones go first."""
    used = 1  # left margin
    chosen: set[str] = set()
    for column in sorted(columns, key=lambda c: c.priority):
        need = column.width + 1
        if column.priority == 0 or used + need <= width:
            chosen.add(column.key)
            used += need
    spare = max(0, width - used)
    placed: list[_Placed] = []
    x = 1
    for column in columns:
        if column.key not in chosen:
            continue
        size = column.width
        if spare and column.max_width > column.width:
            wanted = min(column.max_width, max(column.width, natural.get(column.key, 0)))
            grow = min(spare, wanted - size)
            size += grow
            spare -= grow
        placed.append(_Placed(column, x, size))
        x += size + 1
    return placed


def _money(value: float) -> str:
    if value < 10:
        return f"{value:.3f}"
    if value < 1000:
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _offer_cells(offer: Offer, cheapest: bool) -> tuple[tuple[str, CellKind], ...]:
    """The text of every flat column for one offer, with how each cell is styled."""
    value = offer.dollars_per_tflop_hour
    cells: dict[str, tuple[str, CellKind]] = {
        "platform": (offer.platform, ""),
        "gpu": (
            (_MARK if cheapest else _NO_MARK) + offer.label,
            "cheapest" if cheapest else ("" if offer.gpu else "dim"),
        ),
        "gpus": (str(offer.gpu_count), ""),
        "vram": (f"{offer.vram_gb:.0f} GB", ""),
        "price": (_money(offer.price_per_hour), ""),
        "value": (_MISSING, "dim") if value is None else (f"{value:.3g}", ""),
        "rel": (
            (_MISSING, "dim")
            if offer.reliability is None
            else (f"{offer.reliability * 100:.1f}%", "")
        ),
        "location": (offer.location, "") if offer.location else (_MISSING, "dim"),
        "stock": (offer.stock.value, "") if offer.stock is not None else ("", ""),
        "spot": ("spot", "spot") if offer.interruptible else ("", ""),
    }
    return tuple(cells[column.key] for column in FLAT_COLUMNS)


def _group_cells(row: GpuComparison, trend: str = "") -> tuple[tuple[str, CellKind], ...]:
    """The text of every grouped column for one GPU model (``trend``: its sparkline)."""
    vast, runpod = row.per_gpu_price("vast"), row.per_gpu_price("runpod")
    cheaper = row.cheapest_platform
    spec = gpu_spec(row.gpu)
    vram = spec.vram_gb if spec is not None else next(iter(row.best.values())).vram_gb
    diff = row.difference
    if diff is None or vast is None or runpod is None:
        cheaper_text = f"only {cheaper}" if cheaper else ""
    elif diff == 0:
        cheaper_text = "same price"
    else:
        low, high = min(vast, runpod), max(vast, runpod)
        percent = (high - low) / high * 100 if high else 0.0
        cheaper_text = (
            f"{cheaper} by {percent:.1f}%" if percent < 10 else f"{cheaper} by {percent:.0f}%"
        )

    def price(value: float | None, platform: str) -> tuple[str, CellKind]:
        if value is None:
            return (_MISSING, "dim")
        return (_money(value), "cheapest" if platform == cheaper and diff else "")

    cells: dict[str, tuple[str, CellKind]] = {
        "gpu": (row.gpu, ""),
        "vram": (f"{vram:.0f} GB", ""),
        "vast": price(vast, "vast"),
        "runpod": price(runpod, "runpod"),
        "diff": (_MISSING, "dim") if diff is None else (f"{diff:+.3f}", ""),
        "cheaper": (cheaper_text, "cheapest" if diff else "dim"),
        "trend": (trend, ""),
    }
    return tuple(cells[column.key] for column in GROUPED_COLUMNS)


class OffersTable(ScrollView, can_focus=True):
    """All offers of both markets, filterable, sortable, grouped by GPU; draws only visible rows.

    Columns: platform, GPU (★ marks the cheapest offer per GPU-hour of each model among all
    offers loaded), GPU count, VRAM per GPU, $/h, $/TFLOP-h, reliability, location, stock,
    spot. Narrow terminals drop the least important columns first; platform, GPU and $/h
    always stay. Grouped (``g``): one row per GPU model with the cheapest $/GPU-h on each
    platform, the difference (RunPod minus Vast), which platform is cheaper and a sparkline
    of the cheapest $/GPU-h over the last 7 days (from the price history, blank without
    one); on-demand offers are compared, spot offers instead when the filter says ``spot``.
    """

    DEFAULT_CSS = """
    OffersTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        &:focus {
            background-tint: $foreground 5%;
            & > .offers-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .offers-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .offers-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .offers-table--cheapest {
            color: $success;
            text-style: bold;
        }
        & > .offers-table--dim {
            color: $text-muted;
        }
        & > .offers-table--spot {
            color: $warning;
        }
        & > .offers-table--empty {
            color: $text-muted;
            text-style: italic;
        }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "offers-table--header",
        "offers-table--cursor",
        "offers-table--cheapest",
        "offers-table--dim",
        "offers-table--spot",
        "offers-table--empty",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "Create", id="offers.choose", tooltip="Create an instance"),
        Binding("c", "choose", "Create", show=False, id="offers.create"),
        Binding("s", "cycle_sort", "Sort", id="offers.sort"),
        Binding("g", "toggle_group", "Group by GPU", id="offers.group"),
        Binding("up", "cursor_up", "Previous offer", show=False, id="offers.cursor_up"),
        Binding("down", "cursor_down", "Next offer", show=False, id="offers.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="offers.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="offers.page_down"),
        Binding("home", "cursor_first", "First offer", show=False, id="offers.first"),
        Binding("end", "cursor_last", "Last offer", show=False, id="offers.last"),
    ]

    class OfferChosen(Message):
        """The user asked to create an instance from ``offer`` (enter, c, double click)."""

        def __init__(self, offers_table: OffersTable, offer: Offer) -> None:
            self.offers_table = offers_table
            self.offer = offer
            super().__init__()

        @property
        def control(self) -> OffersTable:
            """The table the offer was chosen in."""
            return self.offers_table

    class OfferHighlighted(Message):
        """The cursor moved to ``offer`` (None when the table shows no rows)."""

        def __init__(self, offers_table: OffersTable, offer: Offer | None) -> None:
            self.offers_table = offers_table
            self.offer = offer
            super().__init__()

        @property
        def control(self) -> OffersTable:
            """The table whose cursor moved."""
            return self.offers_table

    class ViewChanged(Message):
        """The rows shown changed (new offers, filter, sort or grouping): for titles and counts."""

        def __init__(self, offers_table: OffersTable, visible: int, total: int) -> None:
            self.offers_table = offers_table
            self.visible = visible
            self.total = total
            super().__init__()

        @property
        def control(self) -> OffersTable:
            """The table whose view changed."""
            return self.offers_table

    sort_key: reactive[OfferSort] = reactive[OfferSort]("price", init=False)
    """The order of the rows; ``s`` cycles through :data:`~vp_tui.core.offer_filter.SORTS`."""
    grouped: reactive[bool] = reactive(False, init=False)
    """Show one row per GPU model with the cheapest price on each platform side by side."""
    filter_text: reactive[str] = reactive("", init=False)
    """The filter line (see :mod:`vp_tui.core.offer_filter` for the language)."""

    def __init__(
        self,
        offers: Sequence[Offer] | OfferIndex | None = None,
        *,
        sort_key: OfferSort = "price",
        grouped: bool = False,
        filter_text: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.set_reactive(OffersTable.sort_key, sort_key if sort_key in SORTS else "price")
        self.set_reactive(OffersTable.grouped, grouped)
        self.set_reactive(OffersTable.filter_text, filter_text)
        self._index = OfferIndex(())
        self._loaded = False
        self._cheapest: frozenset[str] = frozenset()
        self._natural: dict[str, int] = {}
        self._filter: OfferFilter = parse_filter(filter_text)
        self._positions: list[int] = []
        """Flat view: positions into the index, in display order."""
        self._groups: list[GpuComparison] = []
        """Grouped view: one comparison per GPU model, in display order."""
        self._trends: dict[tuple[str, bool], str] = {}
        """Sparkline of each (GPU model, interruptible) for the grouped view."""
        self._cursor = 0
        self._cursor_key: str | None = None
        self._highlighted: Offer | None = None
        self._highlight_posted = False
        self._cell_cache: LRUCache[int, tuple[tuple[str, CellKind], ...]] = LRUCache(4096)
        self._strip_cache: LRUCache[tuple[int, bool], Strip] = LRUCache(1024)
        self._header: Strip | None = None
        self._styles: dict[str, Style] = {}
        self._placed: list[_Placed] = []
        self._layout_key: tuple[int, bool, OfferSort] | None = None
        if offers is not None:
            self.set_offers(offers)

    # ------------------------------------------------------------------ data

    def set_offers(self, offers: Sequence[Offer] | OfferIndex) -> None:
        """Replace the offers; the cursor stays on the same offer (by key) if it is still there.

        Pass an :class:`OfferIndex` built in a worker thread to keep the preparation of very
        large markets off the UI thread.
        """
        index = offers if isinstance(offers, OfferIndex) else OfferIndex(offers)
        self._index = index
        self._loaded = True
        self._cheapest = index.cheapest
        labels = {o.label for o in index.offers}
        locations = {o.location or "" for o in index.offers}
        gpu_width = max(map(cell_len, labels), default=0) + len(_MARK)
        location_width = max(map(cell_len, locations), default=0)
        self._natural = {"gpu": gpu_width, "location": location_width}
        self._cell_cache.clear()
        self._layout_key = None
        self._rebuild(lost="stay")

    def set_trends(self, trends: dict[tuple[str, bool], str]) -> None:
        """Sparklines of the cheapest $/GPU-h per (GPU model, interruptible) for the grouped
        view (see :meth:`~vp_tui.services.price_history.PriceHistory.trends`)."""
        if trends == self._trends:
            return
        self._trends = dict(trends)
        if self.grouped:
            self._strip_cache.clear()
            self.refresh()

    @property
    def offers(self) -> tuple[Offer, ...]:
        """Every offer loaded, filtered or not."""
        return self._index.offers

    @property
    def total_count(self) -> int:
        """How many offers are loaded."""
        return len(self._index)

    @property
    def visible_count(self) -> int:
        """How many rows the current filter and grouping leave (GPU models when grouped)."""
        return len(self._groups) if self.grouped else len(self._positions)

    @property
    def cursor_row(self) -> int:
        """Index of the highlighted row (0 when the table is empty)."""
        return self._cursor

    @property
    def cursor_offer(self) -> Offer | None:
        """The highlighted offer (grouped: the cheapest offer of the highlighted GPU model)."""
        return self.offer_at(self._cursor)

    def offer_at(self, row: int) -> Offer | None:
        """The offer shown in ``row`` (grouped: the cheapest of that GPU model), if any."""
        if row < 0:
            return None
        if self.grouped:
            return self._groups[row].choice if row < len(self._groups) else None
        if row < len(self._positions):
            return self._index.offers[self._positions[row]]
        return None

    def visible_offers(self) -> list[Offer]:
        """The offers passing the filter, in display order (grouped: one per GPU model)."""
        if self.grouped:
            return [row.choice for row in self._groups]
        offers = self._index.offers
        return [offers[i] for i in self._positions]

    def _row_key(self, row: int) -> str | None:
        if self.grouped:
            return "gpu:" + self._groups[row].gpu if 0 <= row < len(self._groups) else None
        if 0 <= row < len(self._positions):
            return self._index.offers[self._positions[row]].key
        return None

    def _find_row(self, key: str | None) -> int | None:
        if key is None:
            return None
        if self.grouped:
            if not key.startswith("gpu:"):
                return None
            gpu = key[4:]
            for row, group in enumerate(self._groups):
                if group.gpu == gpu:
                    return row
            return None
        position = self._index.positions.get(key)
        if position is None:
            return None
        try:
            return self._positions.index(position)
        except ValueError:
            return None

    def _rebuild(self, *, lost: Literal["stay", "top"]) -> None:
        """Recompute the rows from the index, filter, sort and grouping; keep the cursor's offer.

        ``lost`` says where the cursor goes when its offer is no longer shown: ``stay`` on
        the same row number (a refresh), or ``top`` (a new filter or sort).
        """
        old_cursor = self._cursor
        old_screen_row = old_cursor - round(self.scroll_y)
        positions = self._index.select(self._filter, self.sort_key)
        if self.grouped:
            offers, spot = self._index.offers, self._compared_kind
            best = self._index.best_per_model(positions, spot)
            groups = compare_by_gpu((offers[i] for i in best), interruptible=spot)
            self._groups = rank_comparisons(groups, self.sort_key)
            self._positions = []
        else:
            self._positions = positions
            self._groups = []
        count = self.visible_count
        row = self._find_row(self._cursor_key)
        if row is None:
            row = min(old_cursor, count - 1) if lost == "stay" else 0
        self._cursor = max(0, row)
        self._cursor_key = self._row_key(self._cursor)
        self._strip_cache.clear()
        self._header = None
        self.virtual_size = Size(self.virtual_size.width, count + 1)
        if self.is_mounted:
            self._scroll_to_row(self._cursor - old_screen_row)
            self._scroll_cursor_into_view()
            self.refresh()
            self.post_message(self.ViewChanged(self, count, self.total_count))
            self._post_highlight()

    @property
    def _compared_kind(self) -> bool:
        """What grouped rows compare: spot prices when the filter asks for spot, else on-demand."""
        return self._filter.interruptible is True

    def _post_highlight(self) -> None:
        offer = self.cursor_offer
        if self._highlight_posted and offer == self._highlighted:
            return
        self._highlighted = offer
        self._highlight_posted = True
        self.post_message(self.OfferHighlighted(self, offer))

    # ------------------------------------------------------------- reactives

    def validate_sort_key(self, value: str) -> OfferSort:
        """Unknown sort names fall back to price."""
        for sort in SORTS:
            if value == sort:
                return sort
        return "price"

    def watch_sort_key(self) -> None:
        """Re-order the rows; the cursor goes to the best row of the new order."""
        self._cursor_key = None
        self._rebuild(lost="top")

    def watch_filter_text(self, text: str) -> None:
        """Apply the new filter line; the cursor keeps its offer if it still matches."""
        self._filter = parse_filter(text)
        self._rebuild(lost="top")

    def watch_grouped(self, grouped: bool) -> None:
        """Switch between offers and GPU models, keeping the cursor on the same GPU."""
        if grouped:
            offer = self._offer_for_key(self._cursor_key)
            self._cursor_key = f"gpu:{offer.gpu}" if offer is not None and offer.gpu else None
        else:
            group = self._group_for_key(self._cursor_key)
            self._cursor_key = group.choice.key if group is not None else None
        self._layout_key = None
        self._rebuild(lost="top")

    def _offer_for_key(self, key: str | None) -> Offer | None:
        position = self._index.positions.get(key) if key is not None else None
        return self._index.offers[position] if position is not None else None

    def _group_for_key(self, key: str | None) -> GpuComparison | None:
        if key is None or not key.startswith("gpu:"):
            return None
        return next((g for g in self._groups if g.gpu == key[4:]), None)

    # --------------------------------------------------------------- actions

    @property
    def _page(self) -> int:
        """Data rows visible at once (the header takes one line)."""
        return max(1, self.scrollable_content_region.height - 1)

    def move_cursor(self, row: int) -> None:
        """Highlight ``row`` (clamped to the rows shown) and scroll it into view."""
        count = self.visible_count
        row = max(0, min(row, count - 1))
        if count == 0 or row == self._cursor:
            return
        old = self._cursor
        self._cursor = row
        self._cursor_key = self._row_key(row)
        self._strip_cache.discard((old, True))
        self._strip_cache.discard((row, True))
        self.refresh_line(old + 1)
        self.refresh_line(row + 1)
        self._scroll_cursor_into_view()
        self._post_highlight()

    def _scroll_to_row(self, top: int) -> None:
        top = max(0, min(top, self.max_scroll_y))
        if top != round(self.scroll_y):
            self.scroll_to(y=top, animate=False, force=True)

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_y)
        page = self._page
        if self._cursor < top:
            self._scroll_to_row(self._cursor)
        elif self._cursor >= top + page:
            self._scroll_to_row(self._cursor - page + 1)

    def action_cursor_up(self) -> None:
        """Highlight the row above."""
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        """Highlight the row below."""
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        """Move a page up, keeping the cursor's place on the screen."""
        page = self._page
        self._scroll_to_row(round(self.scroll_y) - page)
        self.move_cursor(self._cursor - page)

    def action_page_down(self) -> None:
        """Move a page down, keeping the cursor's place on the screen."""
        page = self._page
        self._scroll_to_row(round(self.scroll_y) + page)
        self.move_cursor(self._cursor + page)

    def action_cursor_first(self) -> None:
        """Highlight the first row."""
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        """Highlight the last row."""
        self.move_cursor(self.visible_count - 1)

    def action_choose(self) -> None:
        """Ask the app to create an instance from the highlighted offer."""
        offer = self.cursor_offer
        if offer is not None:
            self.post_message(self.OfferChosen(self, offer))

    def action_cycle_sort(self) -> None:
        """Sort by the next of price, value, VRAM, reliability."""
        self.sort_key = SORTS[(SORTS.index(self.sort_key) + 1) % len(SORTS)]

    def action_toggle_group(self) -> None:
        """Switch between every offer and one row per GPU model."""
        self.grouped = not self.grouped

    def on_click(self, event: events.Click) -> None:
        """A click on a row highlights it (double click chooses it); on the header it sorts."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            for placed in self._placed:
                if placed.x <= offset.x < placed.x + placed.width and placed.column.sort:
                    self.sort_key = placed.column.sort
                    return
            return
        row = round(self.scroll_y) + offset.y - 1
        if row >= self.visible_count:
            return
        self.move_cursor(row)
        if event.chain >= 2:
            self.action_choose()

    # ------------------------------------------------------------- rendering

    def notify_style_update(self) -> None:
        """Theme or focus changed: rendered rows are stale."""
        super().notify_style_update()
        self._strip_cache.clear()
        self._styles.clear()
        self._header = None

    def on_resize(self) -> None:
        """Lay the columns out again for the new width."""
        self._layout_key = None
        self._strip_cache.clear()
        self._header = None
        self._scroll_cursor_into_view()

    def on_mount(self) -> None:
        """Show the rows of offers given before the table was mounted."""
        self._rebuild(lost="top")

    def _ensure_layout(self) -> int:
        width = self.scrollable_content_region.width
        key = (width, self.grouped, self.sort_key)
        if key != self._layout_key:
            columns = GROUPED_COLUMNS if self.grouped else FLAT_COLUMNS
            self._placed = _layout(columns, width, self._natural)
            self._layout_key = key
            self._strip_cache.clear()
            self._header = None
            if self.virtual_size.width != width:
                self.virtual_size = Size(width, self.visible_count + 1)
        return width

    def render_line(self, y: int) -> Strip:
        """One screen line: the header on top, then the rows from the scroll position."""
        width = self._ensure_layout()
        if y == 0:
            if self._header is None:
                self._header = self._render_header(width)
            return self._header
        row = round(self.scroll_y) + y - 1
        count = self.visible_count
        if row >= count:
            if count == 0 and y == 1:
                return self._render_empty(width)
            return Strip.blank(width, self._style("base"))
        cursor = row == self._cursor
        strip = self._strip_cache.get((row, cursor))
        if strip is None:
            strip = self._render_row(row, cursor, width)
            self._strip_cache[(row, cursor)] = strip
        return strip

    def _style(self, name: str) -> Style:
        """A rich style by name, looked up once per theme/focus change.

        ``base`` is the widget's own, ``cursor`` and ``header`` whole component styles,
        ``dim``/``cheapest``/``spot``/``empty`` the base style with the component's on top.
        """
        style = self._styles.get(name)
        if style is None:
            if name == "base":
                style = self.rich_style
            elif name in ("cursor", "header"):
                style = self.get_component_rich_style(f"offers-table--{name}")
            else:
                partial = self.get_component_rich_style(f"offers-table--{name}", partial=True)
                style = self._style("base") + partial
            self._styles[name] = style
        return style

    def _render_header(self, width: int) -> Strip:
        style = self._style("header")
        parts = [" "]
        sort = None if self.grouped else self.sort_key
        for placed in self._placed:
            title = placed.column.title
            if sort is not None and placed.column.sort == sort:
                title = _SORT_MARK + title
            parts.append(_fit(title, placed.width, placed.column.align))
            parts.append(" ")
        return _strip([("".join(parts), style)], width, style)

    def _render_empty(self, width: int) -> Strip:
        if not self._loaded:
            text = "Loading offers…"
        elif self.filter_text.strip():
            text = f"No offers match `{self.filter_text.strip()}`"
        elif self.grouped and self.total_count:
            kind = "spot" if self._compared_kind else "on-demand"
            text = f"No {kind} offers of a known GPU model to compare"
        else:
            text = "No offers"
        return _strip([(" " + text, self._style("empty"))], width, self._style("base"))

    def _cells(self, row: int) -> tuple[tuple[str, CellKind], ...]:
        if self.grouped:
            group = self._groups[row]
            return _group_cells(group, self._trends.get((group.gpu, self._compared_kind), ""))
        position = self._positions[row]
        cells = self._cell_cache.get(position)
        if cells is None:
            offer = self._index.offers[position]
            cells = _offer_cells(offer, offer.key in self._cheapest)
            self._cell_cache[position] = cells
        return cells

    def _render_row(self, row: int, cursor: bool, width: int) -> Strip:
        base = self._style("cursor" if cursor else "base")
        cells = self._cells(row)
        columns = _GROUP_INDEX if self.grouped else _FLAT_INDEX
        runs: list[tuple[str, Style]] = []
        parts = [" "]
        for placed in self._placed:
            text, kind = cells[columns[placed.column.key]]
            fitted = _fit(text, placed.width, placed.column.align)
            if kind and not cursor:
                runs.append(("".join(parts), base))
                runs.append((fitted, self._style(kind)))
                parts = [" "]
            else:
                parts.append(fitted)
                parts.append(" ")
        runs.append(("".join(parts), base))
        return _strip(runs, width, base)


def _strip(runs: list[tuple[str, Style]], width: int, pad_style: Style) -> Strip:
    """One line of exactly ``width`` cells from (text, style) runs."""
    length = sum(cell_len(text) for text, _ in runs)
    segments = [Segment(text, style) for text, style in runs if text]
    if length < width:
        segments.append(Segment(" " * (width - length), pad_style))
    elif length > width:
        return Strip(segments, length).crop(0, width)
    return Strip(segments, width)
