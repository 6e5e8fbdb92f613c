"""The yardstick for first paint: a bare Textual app with a header, a 3-row table, a footer."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header


class Bare(App[None]):
    """Nothing but Textual's own start-up cost."""

    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("GPU", "$/h")
        for n in (1, 2, 3):
            table.add_row(f"row-{n}", "0.1")


if __name__ == "__main__":
    Bare().run()
