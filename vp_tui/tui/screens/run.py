"""The run modal: command, workdir, push first, pull after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static


@dataclass
class RunRequest:
    """What the user asked to run."""

    command: str
    workdir: str
    push: bool
    pull: bool


class RunScreen(ModalScreen[RunRequest | None]):
    """Run a command on an instance; `enter` starts it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="run.cancel"),
    ]

    def __init__(self, instance_name: str, workdir: str, project: str) -> None:
        super().__init__()
        self.instance_name = instance_name
        self.workdir = workdir
        self.project = project

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Run on {self.instance_name}", id="dialog-title", markup=False)
            yield Label("Command")
            yield Input("", id="command", placeholder='python3 -c "print(42)"')
            yield Label("Working directory on the instance")
            yield Input(self.workdir, id="workdir")
            with Horizontal(classes="row"):
                # A folder name is text, not markup.
                yield Checkbox(Content(f"Push {self.project} first"), True, id="push")
                yield Checkbox("Pull results after", True, id="pull")
            yield Static("", id="dialog-error", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Run (enter)", id="run", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "run":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Close without running."""
        self.dismiss(None)

    def _submit(self) -> None:
        command = self.query_one("#command", Input).value.strip()
        if not command:
            self.query_one("#dialog-error", Static).update("Type a command to run.")
            return
        self.dismiss(
            RunRequest(
                command=command,
                workdir=self.query_one("#workdir", Input).value.strip() or self.workdir,
                push=self.query_one("#push", Checkbox).value,
                pull=self.query_one("#pull", Checkbox).value,
            )
        )
