"""The destroy dialog: what tearing down loses and costs, checked before it is done.

It lists each instance (its $/h, spend so far, running jobs) and the files
written on it since the last pull, which a worker looks up over SSH while the
dialog is open. Buttons say what they do: "Pull, then destroy" (one instance
only), "Destroy", "Keep it" (or "Destroy 3", "Keep them"); the footer names its
keys the same way. `enter` presses the focused button, which is "Keep it" when
the dialog opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from vp_tui.tui.screens.confirm import describe_key, press_focused

Choice = Literal["pull", "destroy"]
"""What the user chose; the dialog answers None for "keep"."""

CHECKING = "checking…"
"""The files line while the look over SSH is under way."""


@dataclass(frozen=True)
class Teardown:
    """One instance in the dialog: what it is and costs, what is running on it."""

    key: str
    summary: str
    """Plain text lines: platform, id and label, GPU, $/h, spend, running jobs."""
    files: str
    """The files line: ``checking…``, or what the check found, or why it could not."""


class DestroyScreen(ModalScreen[Choice | None]):
    """Ask before destroying one or more instances, showing what would be lost."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "answer('pull')", "Pull, then destroy", id="destroy.pull"),
        Binding("y", "answer('destroy')", "Destroy", id="destroy.yes"),
        Binding("n", "answer('keep')", "Keep it", id="destroy.no"),
        Binding("escape", "answer('keep')", "Keep it", show=False, id="destroy.escape"),
        Binding("enter", "press_focused", "The focused button", show=False, id="destroy.enter"),
    ]

    def __init__(self, title: str, items: list[Teardown], *, pull: bool) -> None:
        super().__init__()
        self.title_text = title
        self.items = {item.key: item for item in items}
        self.pull = pull
        """Whether "Pull, then destroy" is offered (one reachable instance)."""
        one = len(self.items) == 1
        self.destroy_label = "Destroy" if one else f"Destroy {len(self.items)}"
        self.keep_label = "Keep it" if one else "Keep them"
        describe_key(self, "y", self.destroy_label)
        describe_key(self, "n", self.keep_label)
        describe_key(self, "escape", self.keep_label)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="danger"):
            yield Static(self.title_text, id="dialog-title", markup=False)
            with VerticalScroll(id="destroy-list"):
                yield Static(self.body_text(), id="dialog-body", markup=False)
            with Horizontal(id="dialog-buttons"):
                if self.pull:
                    yield Button("Pull, then destroy (p)", id="pull", variant="warning")
                yield Button(f"{self.destroy_label} (y)", id="destroy", variant="error")
                yield Button(f"{self.keep_label} (n)", id="keep")
        yield Footer()

    def body_text(self) -> str:
        """Every instance with its files line, then what destroying means."""
        parts = [
            f"{item.summary}\nWritten there since the last pull: {item.files}"
            for item in self.items.values()
        ]
        lost = (
            "Its disk and everything on it is lost."
            if len(self.items) == 1
            else "Their disks and everything on them are lost."
        )
        return "\n\n".join(parts) + f"\n\n{lost}"

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`p` only where "Pull, then destroy" is offered (so the footer hides it)."""
        if action == "answer" and parameters == ("pull",):
            return self.pull
        return True

    def files_checked(self, key: str, text: str) -> None:
        """Show what the look at an instance's files found (or why it could not)."""
        item = self.items.get(key)
        if item is None:
            return
        self.items[key] = Teardown(item.key, item.summary, text)
        self.query_one("#dialog-body", Static).update(self.body_text())

    def still_checking(self) -> list[str]:
        """Keys of the instances whose files have not been reported yet."""
        return [key for key, item in self.items.items() if item.files == CHECKING]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id or "keep")

    def action_press_focused(self) -> None:
        """Do what the focused button says."""
        press_focused(self)

    def action_answer(self, answer: str) -> None:
        """Close with the choice (None keeps the instances)."""
        if answer == "pull" and self.pull:
            self.dismiss("pull")
        elif answer == "destroy":
            self.dismiss("destroy")
        elif answer == "keep":
            self.dismiss(None)
