"""The instances table: state in colour, uptime, $/h, spend so far; updated by row key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
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


class InstancesTable(DataTable[Text | str]):
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
    ]

    MARK = "✓ "
    """Shown before the id of a marked instance (marked ones are destroyed together)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.instances: dict[str, Instance] = {}
        self.overrides: dict[str, RowOverride] = {}
        self.stale: dict[str, tuple[datetime, str]] = {}
        self.ledger: LedgerSnapshot | None = None
        """The spend ledger at the last listing: spend per instance, and who started it."""
        """Platform -> (when its rows were last true, the error since): rows shown stale."""
        self.marked: set[str] = set()
        """Keys of the instances marked with `space` (for a bulk destroy)."""

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def on_idle(self) -> None:
        # DataTable widens its columns for new rows when idle (right after this
        # handler) but keeps cells it drew before at their old width; redraw them
        # once the widths are settled.
        if self._require_update_dimensions:
            self.call_after_refresh(self.notify_style_update)

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

    def _cells(self, instance: Instance, now: datetime) -> dict[str, Text | str]:
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
        name = instance.instance_id + (f" {instance.label}" if instance.label else "")
        if instance.key in self.marked:
            name = self.MARK + name
        gpu = f"{instance.gpu_count}x {instance.gpu or instance.gpu_raw or '?'}"
        util = "-" if instance.gpu_util is None else f"{instance.gpu_util:.0f}%"
        return {
            "platform": Text(instance.platform),
            # Labels come from providers' consoles: text, not markup, nothing that
            # moves the cursor.
            "name": Text(visible(name)),
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
        current = self.current
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
        with self.app.batch_update():
            for key in list(self.instances):
                if key not in wanted:
                    self.remove_row(key)
                    del self.instances[key]
            for key, instance in wanted.items():
                cells = self._cells(instance, now)
                if key in self.instances:
                    old = self._cells(self.instances[key], now)
                    for column, value in cells.items():
                        if str(old[column]) != str(value) or column == "state":
                            self.update_cell(key, column, value)
                else:
                    self.add_row(*cells.values(), key=key)
                self.instances[key] = instance
        if current is not None and current.key in self.instances:
            self.move_cursor(row=self.get_row_index(current.key))

    def refresh_times(self, now: datetime) -> None:
        """Tick uptime and spend without a new listing."""
        with self.app.batch_update():
            for key, instance in self.instances.items():
                cells = self._cells(instance, now)
                self.update_cell(key, "uptime", cells["uptime"])
                self.update_cell(key, "spent", cells["spent"])
                if instance.platform in self.stale:
                    self.update_cell(key, "state", cells["state"])

    def set_override(self, key: str, override: RowOverride | None, now: datetime) -> None:
        """Mark a row terminating / failed, or clear the mark."""
        if override is None:
            self.overrides.pop(key, None)
        else:
            self.overrides[key] = override
        instance = self.instances.get(key)
        if instance is not None:
            self.update_cell(key, "state", self._cells(instance, now)["state"])

    @property
    def marked_instances(self) -> list[Instance]:
        """The marked instances, in table order."""
        return [i for key, i in self.instances.items() if key in self.marked]

    def action_toggle_mark(self) -> None:
        """Mark the instance under the cursor for a bulk destroy, or unmark it."""
        instance = self.current
        if instance is None:
            return
        self.marked ^= {instance.key}
        name = self._cells(instance, datetime.now(UTC))["name"]
        self.update_cell(instance.key, "name", name)

    def forget(self, key: str) -> None:
        """Drop a row now (its destroy was verified)."""
        self.overrides.pop(key, None)
        self.marked.discard(key)
        if key in self.instances:
            self.remove_row(key)
            del self.instances[key]
