"""The instances table: state in colour, uptime, $/h, spend so far; updated by row key.

The money columns (State, $/h, Spent) are shown at every size: a narrow table
first drops the label (the id alone is shown), then GPU util, flags, uptime,
the GPU and the platform. Rows are ordered by platform, then by when the
instance was created (its id when that is unknown), whatever order a listing
comes in, and the cursor stays on its instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from vp_tui.core.costs import hourly_rate
from vp_tui.core.money import format_duration, format_money, format_price
from vp_tui.core.states import InstanceState
from vp_tui.core.text import visible
from vp_tui.services.ledger import (
    NOT_OURS,
    STORAGE_ONLY,
    LedgerSnapshot,
    instance_flags,
    spent_of,
)
from vp_tui.tui.styles import theme_style

if TYPE_CHECKING:
    from vp_tui.core.models import Instance

Cell = Text | str

COLUMNS: tuple[tuple[str, str], ...] = (
    ("platform", "Platform"),
    ("name", "ID / label"),
    ("gpu", "GPU"),
    ("state", "State"),
    ("uptime", "Uptime"),
    ("price", "$/h"),
    ("spent", "Spent"),
    ("flags", "Flags"),
    ("util", "GPU util"),
)
"""Every column, in the order they are shown: (key, header)."""

ID_HEADER = "ID"
"""The name column's header once labels no longer fit."""

ALWAYS_SHOWN: tuple[str, ...] = ("name", "state", "price", "spent")
"""Columns kept at any width: which instance, its state, and what it costs."""

DROP_ORDER: tuple[str, ...] = ("util", "flags", "uptime", "gpu", "platform")
"""What a narrow table gives up, first to last (after the label)."""

SHORT_FLAGS = {NOT_OURS: "not vp-tui", STORAGE_ONLY: "storage only"}
"""How the instance flags read in the table, where room is short."""

STATE_STYLES: dict[InstanceState, str] = {
    InstanceState.RUNNING: "bold $success",
    InstanceState.FROZEN: "$warning",
    InstanceState.PROVISIONING: "$warning",
    InstanceState.STARTING: "$warning",
    InstanceState.STOPPING: "$warning",
    InstanceState.STOPPED: "$text-muted",
    InstanceState.TERMINATING: "bold $error",
    InstanceState.TERMINATED: "$text-muted",
    InstanceState.ERROR: "bold $error",
    InstanceState.UNKNOWN: "$text-muted",
}


@dataclass
class RowOverride:
    """What the app knows better than the last listing: a destroy in flight or failed."""

    state: InstanceState
    note: str | None = None


@dataclass(frozen=True)
class ColumnLayout:
    """Which columns the table shows, and whether the name column carries the label."""

    columns: tuple[str, ...]
    labels: bool


FULL_LAYOUT = ColumnLayout(tuple(key for key, _ in COLUMNS), labels=True)


def _width(value: Cell) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(value)


def choose_layout(
    rows: Iterable[Mapping[str, Cell]], available: int, padding: int = 1
) -> ColumnLayout:
    """The most columns that fit in ``available`` cells, dropping the label first, then
    ``DROP_ORDER``; the ``ALWAYS_SHOWN`` columns stay whatever the width."""
    widths = {key: cell_len(header) for key, header in COLUMNS}
    widths["label"] = widths["name"]
    widths["name"] = cell_len(ID_HEADER)
    for cells in rows:
        for key in widths:
            widths[key] = max(widths[key], _width(cells[key]))

    def total(columns: Sequence[str], labels: bool) -> int:
        return sum(
            widths["label" if key == "name" and labels else key] + 2 * padding for key in columns
        )

    columns = [key for key, _ in COLUMNS]
    if total(columns, True) <= available:
        return ColumnLayout(tuple(columns), labels=True)
    for key in DROP_ORDER:
        if total(columns, False) <= available:
            break
        columns.remove(key)
    return ColumnLayout(tuple(columns), labels=False)


class InstancesTable(DataTable[Cell]):
    """Every instance of every platform; the cursor stays on its instance across refreshes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "app.run_command", "Run", id="instances.run"),
        Binding("u", "app.push_files", "Push", id="instances.push"),
        Binding("p", "app.pull_files", "Pull", id="instances.pull"),
        Binding("l", "app.instance_jobs", "Jobs", id="instances.jobs"),
        Binding("S", "app.shell", "Shell", id="instances.shell"),
        Binding("x", "app.stop_start", "Stop/start", id="instances.stop_start"),
        Binding("d", "app.destroy", "Destroy", id="instances.destroy"),
        Binding("space", "toggle_mark", "Mark", id="instances.mark"),
        Binding("y", "app.copy_ssh", "Copy ssh", id="instances.copy_ssh"),
        Binding("Y", "app.copy_instance_id", "Copy id", show=False, id="instances.copy_id"),
        Binding("j", "cursor_down", "Down", show=False, id="instances.j"),
        Binding("k", "cursor_up", "Up", show=False, id="instances.k"),
        Binding("g", "scroll_top", "First instance", show=False, id="instances.top"),
        Binding("G", "scroll_bottom", "Last instance", show=False, id="instances.bottom"),
    ]

    MARK = "✓ "
    """Shown before the id of a marked instance (marked ones are destroyed together)."""
    JOB = "▶ "
    """Shown before the id of an instance that runs a job."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.instances: dict[str, Instance] = {}
        self.overrides: dict[str, RowOverride] = {}
        self.stale: dict[str, tuple[datetime, str]] = {}
        """Platform -> (when its rows were last true, the error since): rows shown stale."""
        self.ledger: LedgerSnapshot | None = None
        """The spend ledger at the last listing: spend per instance, and who started it."""
        self.marked: set[str] = set()
        """Keys of the instances marked with `space` (for a bulk destroy)."""
        self.job_keys: set[str] = set()
        """Keys of the instances that run a job (marked ``▶``)."""
        self.layout_shown = FULL_LAYOUT
        """The columns shown now."""
        self._created: dict[str, datetime | None] = {}
        """When each instance was created, as first known: the rows' order."""
        self._drawn: dict[str, dict[str, Cell]] = {}
        """Every cell of every row (shown or not), as last drawn."""
        self._now: datetime | None = None
        """The time of the last listing or tick: marks redraw at it."""

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def on_idle(self) -> None:
        # DataTable widens its columns for new rows when idle (right after this
        # handler) but keeps cells it drew before at their old width; redraw them
        # once the widths are settled.
        if self._require_update_dimensions:
            self.call_after_refresh(self.notify_style_update)

    def on_resize(self, event: events.Resize) -> None:
        self._redraw()

    # ------------------------------------------------------------------ reading

    @property
    def current(self) -> Instance | None:
        """The instance under the cursor."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return self.instances.get(key or "")

    @property
    def shows_labels(self) -> bool:
        """Whether the name column shows labels (it shows ids only when room is short)."""
        return self.layout_shown.labels

    @property
    def shown_columns(self) -> tuple[str, ...]:
        """The keys of the columns on screen, in order."""
        return tuple(key.value or "" for key in self.columns)

    @property
    def row_keys(self) -> list[str]:
        """The instances' keys in table order."""
        return [row.key.value or "" for row in self.ordered_rows]

    @property
    def marked_instances(self) -> list[Instance]:
        """The marked instances, in table order."""
        return [self.instances[key] for key in self.row_keys if key in self.marked]

    # ------------------------------------------------------------------ cells

    def _cells(self, instance: Instance, now: datetime) -> dict[str, Cell]:
        """Every cell of ``instance``'s row; ``label`` is the name column with the label."""
        override = self.overrides.get(instance.key)
        state = override.state if override else instance.state
        label = "out-bid" if instance.outbid and override is None else str(state)
        if override and override.note:
            label = f"{state}: {override.note}"
        style = theme_style(self.app, STATE_STYLES.get(state, ""))
        stale = self.stale.get(instance.platform)
        if stale is not None and override is None:
            # The platform did not answer: this is what it said last, not what is now.
            label = f"{state}? stale {format_duration((now - stale[0]).total_seconds())}"
            style = theme_style(self.app, "italic $warning")
        prefix = (self.MARK if instance.key in self.marked else "") + (
            self.JOB if instance.key in self.job_keys else ""
        )
        name = prefix + instance.instance_id
        labelled = name + (f" {instance.label}" if instance.label else "")
        gpu = f"{instance.gpu_count}x {instance.gpu or instance.gpu_raw or '?'}"
        util = "-" if instance.gpu_util is None else f"{instance.gpu_util:.0f}%"
        return {
            "platform": Text(instance.platform),
            # Labels come from providers' consoles: text, not markup, nothing that
            # moves the cursor.
            "name": Text(visible(name)),
            "label": Text(visible(labelled)),
            "gpu": Text(visible(gpu)),
            "state": Text(label, style=style),
            "uptime": format_duration(instance.uptime_at(now)),
            "price": Text(format_price(hourly_rate(instance)), justify="right"),
            "spent": Text(format_money(spent_of(instance, self.ledger, now)), justify="right"),
            "flags": Text(
                ", ".join(SHORT_FLAGS.get(f, f) for f in instance_flags(instance, self.ledger)),
                style=theme_style(self.app, "$warning"),
            ),
            "util": Text(util, justify="right"),
        }

    def _shown(self, cells: Mapping[str, Cell], column: str) -> Cell:
        """What ``column`` shows of a row under the current layout."""
        if column == "name" and self.layout_shown.labels:
            return cells["label"]
        return cells[column]

    @staticmethod
    def _same(old: Cell, new: Cell) -> bool:
        """Whether a cell would look the same redrawn with ``new``."""
        if str(old) != str(new):
            return False
        if isinstance(old, Text) and isinstance(new, Text):
            return old.style == new.style
        return True

    # ------------------------------------------------------------------ order and fit

    def _remember_created(self, instance: Instance) -> None:
        """Keep the first known creation time: a later start never moves the row."""
        if self._created.get(instance.key) is not None:
            return
        self._created[instance.key] = instance.started_at

    def _order(self) -> list[str]:
        """The keys in the order the rows are shown: platform, creation time, id."""
        never = datetime.max.replace(tzinfo=UTC)

        def key(item: str) -> tuple[str, datetime, str]:
            instance = self.instances[item]
            return (instance.platform, self._created.get(item) or never, instance.instance_id)

        return sorted(self.instances, key=key)

    def _available_width(self) -> int:
        """Cells the columns may take: the table's width less a vertical scrollbar."""
        width = self.size.width
        if self.row_count + 1 > self.size.height:
            width -= self.styles.scrollbar_size_vertical
        return width

    def _fits(self) -> bool:
        """Whether the columns as drawn fit the width (DataTable widths only grow)."""
        if self.size.width <= 0:
            return True  # hidden (another tab): measured again once shown
        drawn = sum(column.get_render_width(self) for column in self.columns.values())
        return drawn <= self._available_width()

    def _wanted_layout(self) -> ColumnLayout:
        if self.size.width <= 0:
            return self.layout_shown  # hidden (another tab): keep what was chosen
        return choose_layout(self._drawn.values(), self._available_width(), self.cell_padding)

    def _rebuild(self, layout: ColumnLayout, order: list[str]) -> None:
        """Redraw every column and row (the column set or the order changed)."""
        self.layout_shown = layout
        headers = dict(COLUMNS)
        if not layout.labels:
            headers["name"] = ID_HEADER
        self.clear(columns=True)
        for column in layout.columns:
            self.add_column(headers[column], key=column)
        for key in order:
            cells = self._drawn[key]
            self.add_row(*(self._shown(cells, c) for c in layout.columns), key=key)

    def _redraw(self, now: datetime | None = None) -> None:
        """Show ``self.instances`` at ``now``: remove vanished rows, update changed cells,
        add new rows; rebuild when the columns that fit or the order change."""
        if now is None:
            now = self._now
        if now is None:
            return  # nothing listed yet
        self._now = now
        current = self.current
        before = self._drawn
        self._drawn = {key: self._cells(i, now) for key, i in self.instances.items()}
        layout = self._wanted_layout()
        order = self._order()
        shown = self.row_keys
        kept = [key for key in shown if key in self.instances]
        new = [key for key in order if key not in set(shown)]
        with self.app.batch_update():
            if layout != self.layout_shown or order != kept + new or not self._fits():
                self._rebuild(layout, order)
            else:
                for key in shown:
                    if key not in self.instances:
                        self.remove_row(key)
                for key in kept:
                    old, cells = before.get(key), self._drawn[key]
                    for column in layout.columns:
                        value = self._shown(cells, column)
                        if old is None or not self._same(self._shown(old, column), value):
                            self.update_cell(key, column, value, update_width=True)
                for key in new:
                    cells = self._drawn[key]
                    self.add_row(*(self._shown(cells, c) for c in layout.columns), key=key)
                if not self._fits():  # a longer value no longer fits: fewer columns
                    self._rebuild(self._wanted_layout(), order)
        if current is not None and current.key in self.instances:
            self.move_cursor(row=self.get_row_index(current.key))

    # ------------------------------------------------------------------ updates

    def sync(
        self,
        instances: Sequence[Instance],
        now: datetime,
        *,
        stale: Mapping[str, tuple[datetime, str]] | None = None,
    ) -> None:
        """Show ``instances``: remove vanished rows, update changed cells, add new rows.

        ``stale`` names the platforms whose rows come from an earlier listing.
        """
        self.stale = dict(stale or {})
        wanted = {i.key: i for i in instances}
        # A row whose destroy failed stays visible (in red) even if the listing lost it.
        for key, override in self.overrides.items():
            if (
                key not in wanted
                and override.state is InstanceState.ERROR
                and key in self.instances
            ):
                wanted[key] = self.instances[key]
        self.marked &= wanted.keys()  # a mark goes with its instance
        for instance in wanted.values():
            self._remember_created(instance)
        self.instances = wanted
        self._redraw(now)

    def refresh_times(self, now: datetime) -> None:
        """Tick uptime and spend without a new listing."""
        self._redraw(now)

    def set_override(self, key: str, override: RowOverride | None, now: datetime) -> None:
        """Mark a row terminating / failed, or clear the mark."""
        if override is None:
            self.overrides.pop(key, None)
        else:
            self.overrides[key] = override
        self._redraw(now)

    def set_job_instances(self, keys: set[str]) -> None:
        """Mark (``▶``) the rows whose instance runs a job; ``keys`` are instance keys."""
        if keys == self.job_keys:
            return
        self.job_keys = set(keys)
        self._redraw()

    def action_toggle_mark(self) -> None:
        """Mark the instance under the cursor for a bulk destroy, or unmark it."""
        instance = self.current
        if instance is None:
            return
        self.marked ^= {instance.key}
        self._redraw()

    def forget(self, key: str) -> None:
        """Drop a row now (its destroy was verified)."""
        self.overrides.pop(key, None)
        self.marked.discard(key)
        if key in self.instances:
            del self.instances[key]
            self._redraw()
