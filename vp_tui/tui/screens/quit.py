"""Quitting while instances still bill: leave them running, stop them, destroy them, or stay.

The dialog lists what bills now ($/h each and the total) and offers four
buttons named by what they do; its footer shows its keys. Stopping and
destroying run in thread workers, one per instance, that report by message;
the dialog shows each instance's progress and asks the app to quit only once
every one is verified. If any fails, the dialog stays open and says which, so
a failed destroy is never left behind silently. `escape` stays (abandoning any
verification under way); `q` again quits at once, leaving the instances as
they are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from vp_tui.core.cancel import Cancelled
from vp_tui.core.costs import hourly_rate
from vp_tui.core.models import Instance, InstanceState, PlatformName
from vp_tui.core.money import format_price
from vp_tui.core.text import visible

Verb = Literal["stop", "destroy"]

Teardown = Callable[[Instance, Verb, threading.Event], Instance | None]
"""Stop or destroy one instance and verify it (on a worker thread): returns the instance as
seen stopped (None once destroyed), raises when it cannot be verified, and ``Cancelled`` as
soon as the event is set."""

DOING: dict[Verb, str] = {"stop": "stopping…", "destroy": "destroying…"}
DONE: dict[Verb, str] = {
    "stop": "stopped (verified; its disk still bills)",
    "destroy": "gone (verified)",
}


def total_line(instances: Sequence[Instance], unknown: Sequence[PlatformName]) -> str:
    """The burn of ``instances`` on the platforms that answered, and those that did not."""
    total = sum(hourly_rate(i) for i in instances if i.platform not in unknown)
    missing = f" + {', '.join(unknown)} unknown" if unknown else ""
    return f"Total burn: {format_price(total)}/h{missing}"


class QuitScreen(ModalScreen[bool]):
    """Ask what to do with billing instances before quitting; dismissed True to quit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stay", "Stay", id="quit.stay"),
        Binding("q", "leave", "Quit, leave them running", id="quit.leave"),
    ]

    @dataclass
    class Finished(Message):
        """One instance's stop or destroy ended: verified, or an error to show."""

        key: str
        verb: Verb
        instance: Instance | None
        """The instance as seen stopped; None when destroyed or failed."""
        error: str | None

    def __init__(
        self,
        instances: Sequence[Instance],
        unknown: Sequence[PlatformName],
        teardown: Teardown,
    ) -> None:
        super().__init__()
        self.instances = list(instances)
        self.unknown = tuple(unknown)
        self.teardown = teardown
        self.remaining: dict[str, Instance] = {i.key: i for i in instances}
        """The instances not yet verified gone (what a button acts on)."""
        self.pending: dict[str, Verb] = {}
        """Instances whose stop or destroy is under way."""
        self.failures: dict[str, str] = {}
        self.cancel = threading.Event()
        """Set when the dialog closes: every verification under way ends."""

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        count = len(self.instances)
        noun = "instance is" if count == 1 else "instances are"
        with Vertical(id="dialog", classes="danger quit"):
            yield Static(f"{count} {noun} still billing", id="dialog-title", markup=False)
            with Vertical(id="quit-list"):
                for n, instance in enumerate(self.instances):
                    yield Static(self._row(instance), id=f"quit-row-{n}", markup=False)
            yield Static(total_line(self.instances, self.unknown), id="quit-total", markup=False)
            yield Static("", id="dialog-error", markup=False)
            with Grid(id="quit-buttons"):
                yield Button("Quit, leave them running (q)", id="leave")
                yield Button("Stop them and quit", id="stop", variant="warning")
                yield Button("Destroy them and quit", id="destroy", variant="error")
                yield Button("Stay (esc)", id="stay", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#dialog-error", Static).display = False
        self._enable_buttons()
        self.query_one("#stay", Button).focus()

    def on_unmount(self) -> None:
        self.cancel.set()

    @staticmethod
    def _cells(instance: Instance) -> tuple[str, ...]:
        """What a row shows of ``instance`` (provider text made visible, never markup)."""
        gpu = visible(instance.gpu or instance.gpu_raw or "?")
        return (
            instance.platform,
            visible(instance.instance_id),
            visible(instance.label or ""),
            f"{instance.gpu_count}x {gpu}",
            str(instance.state),
            f"{format_price(hourly_rate(instance))}/h",
        )

    def _row(self, instance: Instance, status: str = "") -> str:
        cells = self._cells(instance)
        widths = [max(len(self._cells(i)[n]) for i in self.instances) for n in range(len(cells))]
        *left, price = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        line = "  ".join([*left, price.strip().rjust(widths[-1])])
        return f"{line}  {status}" if status else line

    def _show(self, key: str, status: str) -> None:
        for n, instance in enumerate(self.instances):
            if instance.key == key:
                shown = self.remaining.get(key, instance)
                self.query_one(f"#quit-row-{n}", Static).update(self._row(shown, status))

    def _stoppable(self) -> list[Instance]:
        return [i for i in self.remaining.values() if i.state is not InstanceState.STOPPED]

    def _enable_buttons(self) -> None:
        busy = bool(self.pending)
        self.query_one("#leave", Button).disabled = busy
        self.query_one("#stop", Button).disabled = busy or not self._stoppable()
        self.query_one("#destroy", Button).disabled = busy or not self.remaining

    # ---------------------------------------------------------------- actions

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "leave":
            self.action_leave()
        elif event.button.id == "stay":
            self.action_stay()
        elif event.button.id == "stop":
            self.begin("stop", self._stoppable())
        elif event.button.id == "destroy":
            self.begin("destroy", list(self.remaining.values()))

    def action_leave(self) -> None:
        """Quit now; the instances keep running (and billing)."""
        self.cancel.set()
        self.dismiss(True)

    def action_stay(self) -> None:
        """Back to the dashboard; a stop or destroy under way is no longer waited for."""
        self.cancel.set()
        if self.pending:
            names = ", ".join(self.pending)
            self.app.notify(
                f"Requested but not verified: {names}. Watch the instances pane.",
                title="Quit cancelled",
                severity="warning",
                timeout=10,
                markup=False,
            )
        self.dismiss(False)

    def begin(self, verb: Verb, instances: Sequence[Instance]) -> None:
        """Stop or destroy ``instances``, each in its own worker."""
        if not instances:
            return
        self.failures.clear()
        self.query_one("#dialog-error", Static).display = False
        for instance in instances:
            self.pending[instance.key] = verb
            self._show(instance.key, DOING[verb])
            self.tear_down(instance, verb)
        self._enable_buttons()
        self.query_one("#stay", Button).focus()

    @work(thread=True, group="quit", exit_on_error=False)
    def tear_down(self, instance: Instance, verb: Verb) -> None:
        """Stop or destroy one instance and wait until that is verified."""
        try:
            after = self.teardown(instance, verb, self.cancel)
        except Cancelled:
            return
        except Exception as exc:  # any failure is shown: never a silent quit
            self.post_message(self.Finished(instance.key, verb, None, str(exc) or repr(exc)))
            return
        self.post_message(self.Finished(instance.key, verb, after, None))

    def on_quit_screen_finished(self, message: QuitScreen.Finished) -> None:
        verb = self.pending.pop(message.key, None)
        if verb is None:
            return
        if message.error is not None:
            self.failures[message.key] = message.error
            self._show(message.key, f"{verb} FAILED")
        else:
            if verb == "destroy":
                self._show(message.key, DONE[verb])
                self.remaining.pop(message.key, None)
            else:
                if message.instance is not None:
                    self.remaining[message.key] = message.instance
                self._show(message.key, DONE[verb])
        if self.pending:
            return
        if not self.failures:
            self.dismiss(True)
            return
        self._enable_buttons()
        lines = [f"{key}: {visible(error, newlines=True)}" for key, error in self.failures.items()]
        problem = self.query_one("#dialog-error", Static)
        problem.update(
            f"Not quitting: {verb} not verified for {', '.join(self.failures)}; "
            "they may still be billing.\n" + "\n".join(lines)
        )
        problem.display = True
        self.app.notify(
            "\n".join(lines),
            title=f"{verb.capitalize()} NOT verified",
            severity="error",
            timeout=15,
            markup=False,
        )
