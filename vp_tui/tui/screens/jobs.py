"""An instance's jobs: pick one to show its log, or copy its id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from vp_tui.core.models import Job
from vp_tui.core.money import format_duration, format_money
from vp_tui.core.text import visible
from vp_tui.tui.base import DashboardBase


class JobsScreen(ModalScreen[Job | None]):
    """The jobs run on one instance, newest first; `enter` shows the log, `y` copies the id."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="jobs.close"),
        Binding("enter", "open", "Show log", id="jobs.open"),
        Binding("y", "copy_job_id", "Copy job id", id="jobs.copy"),
        Binding("j", "cursor_down", "Down", show=False, id="jobs.down"),
        Binding("k", "cursor_up", "Up", show=False, id="jobs.up"),
        Binding("g", "first", "First job", show=False, id="jobs.first"),
        Binding("G", "last", "Last job", show=False, id="jobs.last"),
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
            table: DataTable[str | Text] = DataTable(id="jobs-table", cursor_type="row")
            yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.table
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

    @property
    def table(self) -> DataTable[str | Text]:
        """The list of jobs."""
        return self.query_one("#jobs-table", DataTable)

    def highlighted(self) -> str | None:
        """The id of the job under the cursor, if there is one."""
        table = self.table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if key is None else str(key)

    def action_open(self) -> None:
        """Show the highlighted job's log."""
        job_id = self.highlighted()
        if job_id is not None:
            self._open(job_id)

    def action_copy_job_id(self) -> None:
        """Copy the highlighted job's id to the clipboard."""
        job_id = self.highlighted()
        if job_id is None:
            self.app.notify("No job to copy.", severity="warning", markup=False)
            return
        app = self.app
        if isinstance(app, DashboardBase):
            app.copy_text(job_id, f"the job id {job_id}")

    def action_cursor_down(self) -> None:
        """The next job."""
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        """The previous job."""
        self.table.action_cursor_up()

    def action_first(self) -> None:
        """The newest job (the first row)."""
        self.table.move_cursor(row=0)

    def action_last(self) -> None:
        """The oldest job (the last row)."""
        self.table.move_cursor(row=max(0, self.table.row_count - 1))

    def _open(self, job_id: str) -> None:
        self.dismiss(next((j for j in self.jobs if j.job_id == job_id), None))

    def action_close(self) -> None:
        """Close without choosing."""
        self.dismiss(None)
