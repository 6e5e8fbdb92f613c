"""The offers table: every offer of both markets, filtered, sorted and grouped, drawn line by line.

Only the rows on screen are ever rendered (Textual's line API: ``render_line`` per
screen line, ``virtual_size`` for the scrollbar), so 20,000 offers cost what one page
costs. Filtering and sorting run over an :class:`~vp_tui.core.offer_filter.OfferIndex`
prepared once per :meth:`OffersTable.set_offers`; rendered rows are cached as Strips
and dropped whenever the view, the width or the theme changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
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

from vp_tui.core.models import PLATFORMS, Offer, PlatformName, Stock
from vp_tui.core.offer_filter import OfferFilter, OfferIndex, parse_filter
from vp_tui.core.ranking import (
    DEFAULT_SORT,
    MODEL_SORTS,
    OFFER_SORTS,
    ModelPrices,
    ModelSort,
    OfferSort,
    cheapness,
    compare_side_by_side,
    natural_descending,
    rank_models,
    unavailable_reason,
)

Align = Literal["left", "right"]

OfferKind = Literal["on-demand", "spot", "all"]
"""Which offers the flat view shows: on-demand only, spot (interruptible) only, or both."""

KINDS: tuple[OfferKind, ...] = ("on-demand", "spot", "all")
"""The kinds in the order ``t`` cycles through them."""

DEFAULT_GROUP_SORT: ModelSort = "cheaper"
"""The order the by-GPU view starts in: cheapest model (of the compared kind) first."""


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
    sort: str | None = None
    """The order a click on the header selects (an OfferSort, or a ModelSort when grouped)."""


FLAT_COLUMNS: tuple[_Column, ...] = (
    _Column("platform", "Platform", 9, 9, "left", 0, "platform"),
    _Column("gpu", "GPU", 12, 28, "left", 0, "gpu"),
    _Column("gpus", "GPUs", 5, 5, "right", 2, "gpus"),
    _Column("vram", "VRAM", 6, 6, "right", 1, "vram"),
    _Column("price", "$/h", 8, 8, "right", 0, "price"),
    _Column("per_gpu", "$/GPU-h", 8, 8, "right", 0, "per_gpu"),
    _Column("value", "$/TFLOP-h", 10, 10, "right", 3, "value"),
    _Column("rel", "Rel", 6, 6, "right", 5, "reliability"),
    _Column("location", "Location", 10, 24, "left", 4, "location"),
    _Column("stock", "Stock", 6, 6, "left", 3, "stock"),
    _Column("kind", "Kind", 6, 6, "left", 1, "kind"),
)
"""The columns of the offer list, in display order (all sortable)."""

_ON_DEMAND_PRIORITY = 0
_SPOT_PRIORITY = 2


def _grouped_columns(spot_compared: bool) -> tuple[_Column, ...]:
    """The columns of the by-GPU comparison; the kind not compared is dropped first."""
    plain = _SPOT_PRIORITY if spot_compared else _ON_DEMAND_PRIORITY
    bids = _ON_DEMAND_PRIORITY if spot_compared else _SPOT_PRIORITY
    return (
        _Column("gpu", "GPU", 12, 28, "left", 0, "gpu"),
        _Column("vram", "VRAM", 6, 6, "right", 3, "vram"),
        _Column("vast", "Vast $/GPU-h", 13, 13, "right", plain, "vast"),
        _Column("vast_spot", "Vast spot", 10, 10, "right", bids, "vast_spot"),
        _Column("runpod", "RunPod $/GPU-h", 15, 15, "right", plain, "runpod"),
        _Column("runpod_spot", "RunPod spot", 12, 12, "right", bids, "runpod_spot"),
        _Column("diff", "Difference", 11, 11, "right", 1, "diff"),
        _Column("cheaper", "Cheaper", 14, 14, "left", 1, "cheaper"),
        _Column("trend", "7 days", 12, 12, "left", 4),
    )


GROUPED_COLUMNS: tuple[_Column, ...] = _grouped_columns(False)
"""The columns of the by-GPU comparison, in display order (all but the trend sortable)."""
_GROUPED_SPOT_COLUMNS = _grouped_columns(True)

_FLAT_INDEX = {column.key: i for i, column in enumerate(FLAT_COLUMNS)}
_GROUP_INDEX = {column.key: i for i, column in enumerate(GROUPED_COLUMNS)}
_MISSING = "—"
_MARK = "★ "
_NO_MARK = "  "
_ASCENDING = "▲"
_DESCENDING = "▼"
_BID = "≥"
"""Before a spot price: it is the minimum bid, what you pay is at least that."""
_STOCK_TEXT = {Stock.HIGH: "High", Stock.MEDIUM: "Medium", Stock.LOW: "Low", Stock.NONE: "out"}

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
    """Which columns fit in ``width`` cells, and where: low-priority ones go first.

    An essential (priority 0) column that grows, such as the GPU name, gets the width its
    text needs before any optional column is added.
    """

    def wanted(column: _Column) -> int:
        return min(column.max_width, max(column.width, natural.get(column.key, 0)))

    used = 1  # left margin
    chosen: dict[str, int] = {}
    for column in sorted(columns, key=lambda c: c.priority):
        size = wanted(column) if column.priority == 0 else column.width
        if column.priority == 0 or used + size + 1 <= width:
            chosen[column.key] = size
            used += size + 1
    spare = max(0, width - used)
    placed: list[_Placed] = []
    x = 1
    for column in columns:
        if column.key not in chosen:
            continue
        size = chosen[column.key]
        if spare and column.max_width > size:
            grow = min(spare, wanted(column) - size)
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


def _price(value: float, spot: bool) -> str:
    """A $/h figure; a spot one is the minimum bid, so it reads ``≥0.120``."""
    return _BID + _money(value) if spot else _money(value)


def _stock_text(offer: Offer) -> str:
    """The stock cell: RunPod's level, ``out`` when none is left, ``?`` when RunPod gives
    none; blank on Vast, which lists rentable machines only."""
    if offer.platform != "runpod":
        return ""
    return "?" if offer.stock is None else _STOCK_TEXT.get(offer.stock, "?")


def describe_offer(offer: Offer) -> str:
    """An offer in a few words for messages: ``2x RTX 4090 (community cloud)``."""
    cloud = f" ({offer.cloud.lower()} cloud)" if offer.cloud else ""
    return f"{offer.gpu_count}x {offer.label}{cloud}"


def not_rentable_message(offer: Offer) -> str | None:
    """What to tell someone who tries to rent ``offer``, or None when it can be rented."""
    reason = unavailable_reason(offer)
    if reason is None:
        return None
    if offer.stock is Stock.NONE:
        return f"{describe_offer(offer)} is out of stock on RunPod; pick another offer"
    return f"{describe_offer(offer)} cannot be rented: {reason}; pick another offer"


def _offer_cells(offer: Offer, cheapest: bool) -> tuple[tuple[str, CellKind], ...]:
    """The text of every flat column for one offer, with how each cell is styled."""
    value = offer.dollars_per_tflop_hour
    spot = offer.interruptible
    cells: dict[str, tuple[str, CellKind]] = {
        "platform": (offer.platform, ""),
        "gpu": (
            (_MARK if cheapest else _NO_MARK) + offer.label,
            "cheapest" if cheapest else ("" if offer.gpu else "dim"),
        ),
        "gpus": (str(offer.gpu_count), ""),
        "vram": (f"{offer.vram_gb:.0f} GB", ""),
        "price": (_price(offer.price_per_hour, spot), ""),
        "per_gpu": (_price(offer.price_per_hour / offer.gpu_count, spot), ""),
        "value": (_MISSING, "dim") if value is None else (f"{value:.3g}", ""),
        "rel": (
            (_MISSING, "dim")
            if offer.reliability is None
            else (f"{offer.reliability * 100:.1f}%", "")
        ),
        "location": (offer.location, "") if offer.location else (_MISSING, "dim"),
        "stock": (_stock_text(offer), ""),
        "kind": ("spot", "spot") if spot else ("on-dem", ""),
    }
    if unavailable_reason(offer) is not None:
        return tuple((cells[c.key][0], "dim") for c in FLAT_COLUMNS)
    return tuple(cells[column.key] for column in FLAT_COLUMNS)


def _group_cells(row: ModelPrices, trend: str = "") -> tuple[tuple[str, CellKind], ...]:
    """The text of every grouped column for one GPU model (``trend``: its sparkline)."""
    compared = row.compared
    spot_compared = row.spot_compared
    cheaper = compared.cheapest_platform if compared is not None else None
    diff = compared.difference if compared is not None else None
    vast = row.per_gpu_price("vast", spot_compared)
    runpod = row.per_gpu_price("runpod", spot_compared)
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

    def price(platform: PlatformName, spot: bool) -> tuple[str, CellKind]:
        value = row.per_gpu_price(platform, spot)
        if value is None:
            return (_MISSING, "dim")
        best = spot == spot_compared and platform == cheaper and bool(diff)
        return (_price(value, spot), "cheapest" if best else "")

    cells: dict[str, tuple[str, CellKind]] = {
        "gpu": (row.gpu, ""),
        "vram": (f"{row.vram_gb:.0f} GB", ""),
        "vast": price("vast", False),
        "vast_spot": price("vast", True),
        "runpod": price("runpod", False),
        "runpod_spot": price("runpod", True),
        "diff": (_MISSING, "dim") if diff is None else (f"{diff:+.3f}", ""),
        "cheaper": (cheaper_text, "cheapest" if diff else "dim"),
        "trend": (trend, ""),
    }
    return tuple(cells[column.key] for column in GROUPED_COLUMNS)


class OffersTable(ScrollView, can_focus=True):
    """All offers of both markets, filterable, sortable, grouped by GPU; draws only visible rows.

    Columns: platform, GPU (★ marks the cheapest offer per GPU-hour of each model and kind
    among all offers loaded, so it is the first of its model in the default order), GPU
    count, VRAM per GPU, $/h, $/GPU-h, $/TFLOP-h, reliability, location, stock, kind. Any
    column sorts (``s`` next column, ``S`` reverse, or a click on its header); the header
    marks the sort column ``▲`` ascending / ``▼`` descending. ``t`` shows on-demand offers,
    spot offers or both (a ``spot``/``ondemand`` word in the filter wins); a spot price is
    the minimum bid and reads ``≥0.120``. RunPod offers out of stock (or with no stock
    figure) are dimmed and cannot be rented. Narrow terminals drop the least important
    columns first; platform, GPU, $/h and $/GPU-h always stay.

    By GPU (``v``): one row per GPU model with the cheapest on-demand and spot $/GPU-h of
    each platform side by side, the difference (RunPod minus Vast), which platform is
    cheaper and a sparkline of the cheapest $/GPU-h over the last 7 days (from the price
    history, blank without one); those compare on-demand prices, spot ones when the kind
    or the filter says spot. ``enter`` there opens :class:`~vp_tui.tui.screens.offer_pick.
    OfferPickScreen` to pick which of the model's offers to rent.
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
        Binding("i", "app.offer_details", "Details", id="offers.details"),
        Binding("s", "cycle_sort", "Sort", id="offers.sort", tooltip="Sort by the next column"),
        Binding("S", "reverse_sort", "Reverse sort", show=False, id="offers.reverse"),
        Binding("t", "cycle_kind", "Kind", id="offers.kind", tooltip="On-demand, spot or both"),
        Binding("v", "toggle_group", "By GPU", id="offers.group", tooltip="View by GPU model"),
        Binding("j", "cursor_down", "Next offer", show=False, id="offers.j"),
        Binding("k", "cursor_up", "Previous offer", show=False, id="offers.k"),
        Binding("g", "cursor_first", "First offer", show=False, id="offers.top"),
        Binding("G", "cursor_last", "Last offer", show=False, id="offers.bottom"),
        Binding("up", "cursor_up", "Previous offer", show=False, id="offers.cursor_up"),
        Binding("down", "cursor_down", "Next offer", show=False, id="offers.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="offers.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="offers.page_down"),
        Binding("home", "cursor_first", "First offer", show=False, id="offers.first"),
        Binding("end", "cursor_last", "Last offer", show=False, id="offers.last"),
    ]

    class OfferChosen(Message):
        """The user asked to create an instance from ``offer`` (enter, c, double click, or
        a pick in the by-GPU view); never an offer that cannot be rented."""

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
        """The rows shown changed (new offers, filter, sort, kind or grouping): for titles
        and counts. ``kind`` is the kind of offers shown (the filter's word, else the
        toggle); by GPU, the kind compared (``all`` compares on-demand)."""

        def __init__(
            self, offers_table: OffersTable, visible: int, total: int, kind: OfferKind = "all"
        ) -> None:
            self.offers_table = offers_table
            self.visible = visible
            self.total = total
            self.kind: OfferKind = kind
            super().__init__()

        @property
        def control(self) -> OffersTable:
            """The table whose view changed."""
            return self.offers_table

    sort_key: reactive[OfferSort] = reactive[OfferSort](DEFAULT_SORT, init=False)
    """The order of the offer rows (a column's sort); ``s`` cycles the columns shown."""
    sort_descending: reactive[bool] = reactive(False, init=False)
    """Whether the offer rows run from the largest value down; ``S`` reverses."""
    group_sort_key: reactive[ModelSort] = reactive[ModelSort](DEFAULT_GROUP_SORT, init=False)
    """The order of the by-GPU rows (a column's sort)."""
    group_sort_descending: reactive[bool] = reactive(False, init=False)
    """Whether the by-GPU rows run from the largest value down."""
    kind: reactive[OfferKind] = reactive[OfferKind]("on-demand", init=False)
    """Which offers the list shows: on-demand (default), spot or all; ``t`` cycles."""
    grouped: reactive[bool] = reactive(False, init=False)
    """Show one row per GPU model with the cheapest prices on each platform side by side."""
    filter_text: reactive[str] = reactive("", init=False)
    """The filter line (see :mod:`vp_tui.core.offer_filter` for the language)."""

    def __init__(
        self,
        offers: Sequence[Offer] | OfferIndex | None = None,
        *,
        sort_key: OfferSort = DEFAULT_SORT,
        grouped: bool = False,
        filter_text: str = "",
        kind: OfferKind = "on-demand",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        sort = self.validate_sort_key(sort_key)
        self.set_reactive(OffersTable.sort_key, sort)
        self.set_reactive(OffersTable.sort_descending, natural_descending(sort))
        self.set_reactive(OffersTable.grouped, grouped)
        self.set_reactive(OffersTable.filter_text, filter_text)
        self.set_reactive(OffersTable.kind, self.validate_kind(kind))
        self._index = OfferIndex(())
        self._loaded = False
        self._cheapest: frozenset[str] = frozenset()
        self._natural: dict[str, int] = {}
        self._filter: OfferFilter = parse_filter(filter_text)
        self._positions: list[int] = []
        """Flat view: positions into the index, in display order."""
        self._groups: list[ModelPrices] = []
        """Grouped view: one row per GPU model, in display order."""
        self._group_positions: list[int] = []
        """Grouped view: the offers passing the filter (any kind), for the pick dialog."""
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
        self._layout_key: tuple[int, bool, bool] | None = None
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
        self._cheapest = index.cheapest_of_kind
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
        """The highlighted offer (grouped: the cheapest offer of the highlighted GPU model,
        of the kind compared when it has one)."""
        return self.offer_at(self._cursor)

    @property
    def shown_kind(self) -> OfferKind:
        """The kind of offers listed: a ``spot``/``ondemand`` word in the filter wins over
        :attr:`kind` while it is there."""
        wanted = self._filter.interruptible
        if wanted is None:
            return self.kind
        return "spot" if wanted else "on-demand"

    @property
    def current_sort(self) -> tuple[str, bool]:
        """(sort name, descending) of the view shown: an OfferSort, or a ModelSort by GPU."""
        if self.grouped:
            return self.group_sort_key, self.group_sort_descending
        return self.sort_key, self.sort_descending

    @property
    def cursor_group(self) -> ModelPrices | None:
        """Grouped: the highlighted GPU model's row (None in the flat view)."""
        if self.grouped and 0 <= self._cursor < len(self._groups):
            return self._groups[self._cursor]
        return None

    def offer_at(self, row: int) -> Offer | None:
        """The offer shown in ``row`` (grouped: that GPU model's :attr:`ModelPrices.choice`)."""
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

    def pick_choices(self, row: ModelPrices) -> list[Offer]:
        """The offers the pick dialog lists for a GPU model: its cheapest on each platform,
        on-demand and spot, each followed by the cheapest one that can be rented when the
        cheapest cannot (out of stock)."""
        rentable: dict[tuple[PlatformName, bool], Offer] = {}
        offers = self._index.offers
        for i in self._group_positions:
            offer = offers[i]
            if offer.gpu != row.gpu or unavailable_reason(offer) is not None:
                continue
            slot = (offer.platform, offer.interruptible)
            current = rentable.get(slot)
            if current is None or cheapness(offer) < cheapness(current):
                rentable[slot] = offer
        choices: list[Offer] = []
        for platform in PLATFORMS:
            for spot in (False, True):
                best = row.offer(platform, spot)
                if best is None:
                    continue
                choices.append(best)
                other = rentable.get((platform, spot))
                if unavailable_reason(best) is not None and other is not None:
                    choices.append(other)
        return choices

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

    def _listed_filter(self) -> OfferFilter:
        """The filter of the flat view: the filter line, narrowed to :attr:`kind` unless the
        line names a kind itself."""
        flt = self._filter
        if flt.interruptible is not None or self.kind == "all":
            return flt
        return replace(flt, interruptible=self.kind == "spot")

    def _rebuild(self, *, lost: Literal["stay", "top"]) -> None:
        """Recompute the rows from the index, filter, kind, sort and grouping; keep the
        cursor's offer.

        ``lost`` says where the cursor goes when its offer is no longer shown: ``stay`` on
        the same row number (a refresh), or ``top`` (a new filter or sort).
        """
        old_cursor = self._cursor
        old_screen_row = old_cursor - round(self.scroll_y)
        if self.grouped:
            index = self._index
            offers = index.offers
            positions = index.select(self._filter, self.sort_key, self.sort_descending)
            plain = index.best_per_model(positions, False)
            bids = index.best_per_model(positions, True)
            rows = compare_side_by_side(
                (offers[i] for i in plain),
                (offers[i] for i in bids),
                spot_compared=self._compared_kind,
            )
            self._groups = rank_models(rows, self.group_sort_key, self.group_sort_descending)
            self._group_positions = positions
            self._positions = []
        else:
            self._positions = self._index.select(
                self._listed_filter(), self.sort_key, self.sort_descending
            )
            self._groups = []
            self._group_positions = []
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
            kind: OfferKind = self.shown_kind
            if self.grouped:
                kind = "spot" if self._compared_kind else "on-demand"
            self.post_message(self.ViewChanged(self, count, self.total_count, kind))
            self._post_highlight()

    @property
    def _compared_kind(self) -> bool:
        """What grouped rows compare: spot prices when the kind or the filter says spot."""
        return self.shown_kind == "spot"

    def _post_highlight(self) -> None:
        offer = self.cursor_offer
        if self._highlight_posted and offer == self._highlighted:
            return
        self._highlighted = offer
        self._highlight_posted = True
        self.post_message(self.OfferHighlighted(self, offer))

    # ------------------------------------------------------------- reactives

    def validate_sort_key(self, value: str) -> OfferSort:
        """Unknown sort names fall back to the default ($/GPU-h)."""
        for sort in OFFER_SORTS:
            if value == sort:
                return sort
        return DEFAULT_SORT

    def validate_group_sort_key(self, value: str) -> ModelSort:
        """Unknown sort names fall back to the cheaper platform's price."""
        for sort in MODEL_SORTS:
            if value == sort:
                return sort
        return DEFAULT_GROUP_SORT

    def validate_kind(self, value: str) -> OfferKind:
        """Unknown kinds fall back to on-demand."""
        for kind in KINDS:
            if value == kind:
                return kind
        return "on-demand"

    def _resort(self, grouped: bool) -> None:
        """A sort of the ``grouped`` (or flat) view changed: re-order the rows if that view
        is shown; the cursor goes to the best row of the new order."""
        if grouped != self.grouped:
            return
        self._cursor_key = None
        self._rebuild(lost="top")

    def watch_sort_key(self) -> None:
        """Re-order the offer rows."""
        self._resort(False)

    def watch_sort_descending(self) -> None:
        """Reverse the offer rows."""
        self._resort(False)

    def watch_group_sort_key(self) -> None:
        """Re-order the GPU-model rows."""
        self._resort(True)

    def watch_group_sort_descending(self) -> None:
        """Reverse the GPU-model rows."""
        self._resort(True)

    def watch_kind(self) -> None:
        """Show the other kind of offers; the cursor keeps its offer if it is still shown."""
        self._layout_key = None
        self._rebuild(lost="top")

    def watch_filter_text(self, text: str) -> None:
        """Apply the new filter line; the cursor keeps its offer if it still matches."""
        self._filter = parse_filter(text)
        self._layout_key = None
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

    def _group_for_key(self, key: str | None) -> ModelPrices | None:
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
        """Ask the app to create an instance from the highlighted offer; by GPU, open the
        dialog that picks one of the model's offers. An offer that cannot be rented (out
        of stock) is refused with a notification."""
        group = self.cursor_group
        if group is not None:
            self._open_pick(group)
            return
        offer = self.cursor_offer
        if offer is None:
            return
        problem = not_rentable_message(offer)
        if problem is not None:
            self.notify(problem, severity="warning", markup=False)
            return
        self.post_message(self.OfferChosen(self, offer))

    def _open_pick(self, group: ModelPrices) -> None:
        from vp_tui.tui.screens.offer_pick import OfferPickScreen

        def picked(offer: Offer | None) -> None:
            if offer is not None and unavailable_reason(offer) is None and self.is_mounted:
                self.post_message(self.OfferChosen(self, offer))

        screen = OfferPickScreen(group.gpu, self.pick_choices(group), group.choice)
        self.app.push_screen(screen, picked)

    def sort_by(self, sort: str, descending: bool | None = None) -> None:
        """Order the view shown by the column sort ``sort`` (an OfferSort, or a ModelSort by
        GPU), ``descending`` or else in its natural direction."""
        down = natural_descending(sort) if descending is None else descending
        if self.grouped:
            group_sort = self.validate_group_sort_key(sort)
            if group_sort == self.group_sort_key:
                self.group_sort_descending = down
            else:
                self.set_reactive(OffersTable.group_sort_descending, down)
                self.group_sort_key = group_sort
            return
        offer_sort = self.validate_sort_key(sort)
        if offer_sort == self.sort_key:
            self.sort_descending = down
        else:
            self.set_reactive(OffersTable.sort_descending, down)
            self.sort_key = offer_sort

    def action_cycle_sort(self) -> None:
        """Sort by the next column shown (each in its natural direction first)."""
        self._ensure_layout()
        columns = self._columns()
        shown = [p.column.sort for p in self._placed if p.column.sort]
        every = [c.sort for c in columns if c.sort]
        if not shown:
            return
        current, _ = self.current_sort
        start = every.index(current) if current in every else -1
        for step in range(1, len(every) + 1):
            candidate = every[(start + step) % len(every)]
            if candidate in shown:
                self.sort_by(candidate)
                return

    def action_reverse_sort(self) -> None:
        """Reverse the order of the rows (the sort column stays)."""
        sort, descending = self.current_sort
        self.sort_by(sort, not descending)

    def action_cycle_kind(self) -> None:
        """Show on-demand offers, then spot offers, then both."""
        self.kind = KINDS[(KINDS.index(self.kind) + 1) % len(KINDS)]
        if self._filter.interruptible is not None:
            word = "spot" if self._filter.interruptible else "ondemand"
            self.notify(
                f"Kind: {self.kind} once the filter no longer says {word}",
                markup=False,
                timeout=3,
            )

    def action_toggle_group(self) -> None:
        """Switch between every offer and one row per GPU model."""
        self.grouped = not self.grouped

    def on_click(self, event: events.Click) -> None:
        """A click on a row highlights it (double click chooses it); on a header it sorts by
        that column, a second click on the same header reverses."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            for placed in self._placed:
                sort = placed.column.sort
                if placed.x <= offset.x < placed.x + placed.width and sort:
                    current, descending = self.current_sort
                    self.sort_by(sort, not descending if sort == current else None)
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

    def _columns(self) -> tuple[_Column, ...]:
        if not self.grouped:
            return FLAT_COLUMNS
        return _GROUPED_SPOT_COLUMNS if self._compared_kind else GROUPED_COLUMNS

    def _ensure_layout(self) -> int:
        width = self.scrollable_content_region.width
        key = (width, self.grouped, self.grouped and self._compared_kind)
        if key != self._layout_key:
            self._placed = _layout(self._columns(), width, self._natural)
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
        sort, descending = self.current_sort
        mark = _DESCENDING if descending else _ASCENDING
        for placed in self._placed:
            title = placed.column.title
            if placed.column.sort == sort:
                title = mark + title
            parts.append(_fit(title, placed.width, placed.column.align))
            parts.append(" ")
        return _strip([("".join(parts), style)], width, style)

    def _render_empty(self, width: int) -> Strip:
        kind = self.shown_kind
        if not self._loaded:
            text = "Loading offers…"
        elif self.filter_text.strip():
            text = f"No offers match `{self.filter_text.strip()}`"
        elif self.grouped and self.total_count:
            text = "No offers of a known GPU model to compare"
        elif self.total_count and kind != "all":
            text = f"No {kind} offers (t shows other kinds)"
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
