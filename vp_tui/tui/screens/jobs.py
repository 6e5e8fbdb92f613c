"""An instance's jobs: pick one to show its log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from vp_tui.core.models import Job
from vp_tui.core.money import format_duration, format_money
from vp_tui.core.text import visible


class JobsScreen(ModalScreen[Job | None]):
    """The jobs run on one instance, newest first; `enter` shows the log."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="jobs.close"),
        Binding("enter", "open", "Show log", id="jobs.open"),
    ]

    def __init__(self, title: str, jobs: Sequence[Job]) -> None:
        super().__init__()
        self.title_text = title
        self.jobs = list(jobs)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide"):
            yield Static(self.title_text, id="dialog-title", markup=False)
            if not self.jobs:
                yield Static("No jobs on this instance yet: press r on it to run one.")
            table: DataTable[str] = DataTable(id="jobs-table", cursor_type="row")
            yield table

    def on_mount(self) -> None:
        table = self.query_one("#jobs-table", DataTable)
        table.add_columns("Job", "State", "Exit", "Took", "Cost", "Command")
        for job in self.jobs:
            table.add_row(
                job.job_id,
                str(job.state),
                "" if job.exit_code is None else str(job.exit_code),
                format_duration(job.duration_seconds),
                format_money(job.estimated_cost),
                Text(visible(job.command)),  # what the user typed, shown as typed
                key=job.job_id,
            )
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._open(str(event.row_key.value))

    def action_open(self) -> None:
        """Show the highlighted job's log."""
        table = self.query_one("#jobs-table", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            self._open(str(key))

    def _open(self, job_id: str) -> None:
        self.dismiss(next((j for j in self.jobs if j.job_id == job_id), None))

    def action_close(self) -> None:
        """Close without choosing."""
        self.dismiss(None)
