"""The run modal: command (with its history), environment, target instance, workdir,
push first, pull after."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from vp_tui.tui.widgets.tick_box import TickBox

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A name the shell takes as an environment variable."""


class EnvError(ValueError):
    """The environment field does not read as ``KEY=value`` pairs; the message says why."""


def parse_env(text: str) -> dict[str, str]:
    """``KEY=value`` pairs, space separated, values shell-quoted as needed
    (``A=1 MSG='hello world'``); raises ``EnvError`` naming what is wrong."""
    try:
        words = shlex.split(text)
    except ValueError as exc:  # an unclosed quote
        raise EnvError(f"Environment: {exc}.") from None
    env: dict[str, str] = {}
    for word in words:
        name, equals, value = word.partition("=")
        if not equals:
            raise EnvError(f"Environment: {name!r} has no value: write {name}=value.")
        if not ENV_NAME.fullmatch(name):
            raise EnvError(
                f"Environment: {name!r} is not a variable name "
                "(letters, digits and _, not starting with a digit)."
            )
        env[name] = value
    return env


@dataclass(frozen=True)
class RunTarget:
    """A running instance the dialog offers to run on."""

    key: str
    """The instance's key (``Instance.key``)."""
    label: str
    """How the choice reads: name, platform and GPU."""


@dataclass
class RunRequest:
    """What the user asked to run."""

    command: str
    workdir: str
    push: bool
    pull: bool
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables for the command (values may be secrets: never logged)."""
    target: str | None = None
    """The key of the instance chosen in the dialog; None when none was offered."""


class CommandInput(Input):
    """The command field: `up` and `down` walk the commands run before, newest first.

    ``down`` past the newest gives back what was being typed.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "older", "Earlier command", key_display="↑", id="run.history.older"),
        Binding("down", "newer", "Later command", show=False, id="run.history.newer"),
    ]

    def __init__(
        self, history: Sequence[str], *, placeholder: str = "", id: str | None = None
    ) -> None:
        super().__init__("", placeholder=placeholder, id=id)
        self.history = list(history)
        """Earlier commands, newest first."""
        self.position = -1
        """Where in ``history`` the field is; -1 while it holds what was typed."""
        self.draft = ""
        """What was typed before walking the history."""

    def action_older(self) -> None:
        """Show the command run before the one shown."""
        if self.position + 1 >= len(self.history):
            return
        if self.position == -1:
            self.draft = self.value
        self.position += 1
        self._show(self.history[self.position])

    def action_newer(self) -> None:
        """Show the command run after the one shown, or what was typed."""
        if self.position < 0:
            return
        self.position -= 1
        self._show(self.draft if self.position == -1 else self.history[self.position])

    def _show(self, text: str) -> None:
        self.value = text
        self.cursor_position = len(text)


class RunScreen(ModalScreen[RunRequest | None]):
    """Run a command on an instance; `enter` starts it."""

    DEFAULT_CSS = """
    RunScreen #run-target {
        height: auto;
    }
    RunScreen #run-target #dialog-title {
        width: auto;
        padding-right: 1;
    }
    RunScreen #dialog-buttons #dialog-error {
        width: 1fr;
    }
    RunScreen #target {
        width: 1fr;
    }
    RunScreen #run-syncs {
        margin-bottom: 1;
    }
    RunScreen TickBox {
        margin-right: 3;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="run.cancel"),
        Binding("enter", "run", "Run", show=True, id="run.run"),
    ]

    def __init__(
        self,
        instance_name: str,
        workdir: str,
        project: str,
        *,
        targets: Sequence[RunTarget] = (),
        target: str | None = None,
        history: Sequence[str] = (),
    ) -> None:
        """``targets`` are the running instances to choose from (``target`` chosen first);
        ``history`` the commands run before, newest first."""
        super().__init__()
        self.instance_name = instance_name
        self.workdir = workdir
        self.project = project
        self.targets = list(targets)
        self.target = target if target is not None else (targets[0].key if targets else None)
        self.history = list(history)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            if self.targets:
                with Horizontal(id="run-target"):
                    yield Static("Run on", id="dialog-title")
                    yield Select[str](
                        # Labels and names are text from the provider or the user, not markup.
                        [(Text(t.label), t.key) for t in self.targets],
                        value=self.target if self.target is not None else Select.NULL,
                        allow_blank=False,
                        compact=True,
                        id="target",
                    )
            else:
                yield Static(f"Run on {self.instance_name}", id="dialog-title", markup=False)
            yield Label("Command")
            yield CommandInput(self.history, id="command", placeholder='python3 -c "print(42)"')
            yield Label("Environment")
            yield Input("", id="env", placeholder="KEY=value  TOKEN='with spaces'")
            yield Label("Working directory on the instance")
            yield Input(self.workdir, id="workdir")
            with Horizontal(classes="row", id="run-syncs"):
                # A folder name is text, not markup.
                yield TickBox(Content(f"Push {self.project} first"), True, compact=True, id="push")
                yield TickBox("Pull results after", True, compact=True, id="pull")
            with Horizontal(id="dialog-buttons"):
                yield Static("", id="dialog-error", markup=False)
                yield Button("Run (enter)", id="run", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.target = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "run":
            self._submit()
        else:
            self.dismiss(None)

    def action_run(self) -> None:
        """Start the run with what the dialog holds."""
        self._submit()

    def action_cancel(self) -> None:
        """Close without running."""
        self.dismiss(None)

    def _error(self, text: str) -> None:
        error = self.query_one("#dialog-error", Static)
        error.update(Content(text))

    def _submit(self) -> None:
        command = self.query_one("#command", Input).value.strip()
        if not command:
            self._error("Type a command to run.")
            return
        try:
            env = parse_env(self.query_one("#env", Input).value)
        except EnvError as exc:
            self._error(str(exc))
            self.query_one("#env", Input).focus()
            return
        self.dismiss(
            RunRequest(
                command=command,
                workdir=self.query_one("#workdir", Input).value.strip() or self.workdir,
                push=self.query_one("#push", TickBox).value,
                pull=self.query_one("#pull", TickBox).value,
                env=env,
                target=self.target,
            )
        )
