"""A yes/no question in a modal: `y` confirms, `n`/`escape` cancels, `enter` presses the
focused button. Both buttons, and the footer, say what they do ("Cancel job",
"Keep running")."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask before doing something that costs money or cannot be undone."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("enter", "press_focused", "The focused button", show=False, id="confirm.enter"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
        Binding("escape", "answer(False)", "No", show=False, id="confirm.escape"),
    ]

    def __init__(
        self,
        title: str,
        body: str,
        *,
        yes: str = "Yes",
        no: str = "Cancel",
        danger: bool = True,
    ) -> None:
        """``yes`` and ``no`` label the buttons (and the footer's `y` and `n`): what
        each answer does, e.g. ``yes="Cancel job", no="Keep running"``."""
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes = yes
        self.no = no
        self.danger = danger
        describe_key(self, "y", yes)
        describe_key(self, "n", no)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="danger" if self.danger else ""):
            yield Static(self.title_text, id="dialog-title", markup=False)
            yield Static(self.body, id="dialog-body", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button(
                    f"{self.yes} (y)", id="yes", variant="error" if self.danger else "primary"
                )
                yield Button(f"{self.no} (n)", id="no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_press_focused(self) -> None:
        """Do what the focused button says (nothing when no button has focus)."""
        press_focused(self)

    def action_answer(self, answer: bool) -> None:
        """Close with the answer."""
        self.dismiss(answer)


def press_focused(screen: Screen[Any]) -> None:
    """Press the button that has focus on ``screen``, as a click on it would."""
    focused = screen.focused
    if isinstance(focused, Button) and not focused.disabled:
        focused.press()


def describe_key(screen: Screen[Any], key: str, description: str) -> None:
    """Let ``key`` read ``description`` in this dialog's footer (the class's binding
    says it in general terms; this dialog's button says exactly what it does)."""
    bindings = screen._bindings.key_to_bindings  # this instance's own copy
    if key in bindings:
        bindings[key] = [replace(binding, description=description) for binding in bindings[key]]
