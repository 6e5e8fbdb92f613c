"""The offer filter line and the note under it that names what the filter did not understand.

``FilterInput`` is an ``Input`` that is left with ``escape`` (the owner moves the focus
back to the table) and that recalls earlier filters with ``up``/``down``, newest first,
like a shell. It keeps the recalled lines in memory only: the dashboard loads them from
the store and hands every line worth keeping to :meth:`FilterInput.remember`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Static

HISTORY_SIZE = 100
"""Filters kept in memory for ``up``/``down``."""


class FilterInput(Input):
    """The offer filter: ``escape`` leaves it, ``up``/``down`` walk the earlier filters."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back to the offers", show=False, id="filter.leave"),
        Binding("up", "older", "Earlier filter", show=False, id="filter.older"),
        Binding("down", "newer", "Later filter", show=False, id="filter.newer"),
    ]

    class Left(Message):
        """The user left the filter with ``escape``; ``value`` is what it holds."""

        def __init__(self, filter_input: FilterInput, value: str) -> None:
            self.filter_input = filter_input
            self.value = value
            super().__init__()

        @property
        def control(self) -> FilterInput:
            """The filter that was left."""
            return self.filter_input

    def __init__(
        self,
        value: str | None = None,
        placeholder: str = "",
        *,
        leave_to: str | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(value, placeholder, name=name, id=id, classes=classes)
        self.leave_to = leave_to
        """Selector of the widget ``escape`` gives the focus to (None: the next one)."""
        self.history: list[str] = []
        """Earlier filters, newest first."""
        self.history_loaded = False
        """Whether the earlier filters have been read from the store yet."""
        self._position = -1
        """Index into :attr:`history` of the line shown; -1 while showing the draft."""
        self._draft = ""
        """What was typed before walking the history (``down`` past the newest returns it)."""
        self._recalled: str | None = None
        """The line the history walk last put in the input (an edit starts a new draft)."""

    # ----------------------------------------------------------------- history

    def load_history(self, lines: Iterable[str]) -> None:
        """Start the history from ``lines`` (newest first), keeping what was remembered since."""
        known = [*self.history]
        for line in lines:
            if line not in known:
                known.append(line)
        self.history = known[:HISTORY_SIZE]
        self.history_loaded = True

    def remember(self, text: str) -> None:
        """Make ``text`` the newest filter of the history (blank lines are not kept)."""
        line = text.strip()
        if line:
            self.history = [line, *(old for old in self.history if old != line)][:HISTORY_SIZE]
        self._position = -1
        self._recalled = None

    def action_older(self) -> None:
        """Show the filter before the one shown (from the draft: the newest)."""
        self._walk(+1)

    def action_newer(self) -> None:
        """Show the filter after the one shown; past the newest, what was being typed."""
        self._walk(-1)

    def _walk(self, step: int) -> None:
        if self._recalled is not None and self.value != self._recalled:
            # Edited since it was recalled: that is the new draft.
            self._position, self._recalled = -1, None
        if self._position == -1:
            if step < 0 or not self.history:
                return
            self._draft = self.value
        position = max(-1, min(len(self.history) - 1, self._position + step))
        if position == self._position:
            return
        self._position = position
        text = self._draft if position == -1 else self.history[position]
        self._recalled = None if position == -1 else text
        self.value = text
        self.cursor_position = len(text)

    # ------------------------------------------------------------------- leave

    def action_leave(self) -> None:
        """Give the focus back (the text stays) and say so."""
        self._position, self._recalled = -1, None
        found = self.screen.query(self.leave_to) if self.leave_to else None
        target = found.first() if found else None
        if target is not None and target.focusable:
            # At once, not deferred: the next key pressed belongs to the table.
            self.screen.set_focus(target)
        else:
            self.screen.focus_next()
        self.post_message(self.Left(self, self.value))


class FilterNote(Static):
    """One line under the filter naming the tokens it did not understand (hidden if none)."""

    DEFAULT_CSS = """
    FilterNote {
        height: 1;
        padding: 0 1;
        color: $text-warning;
        background: $warning-muted;
        display: none;
        &.-shown {
            display: block;
        }
    }
    """

    message = ""
    """The note shown now (empty while hidden)."""

    def show_unknown(self, tokens: Sequence[str]) -> None:
        """Name ``tokens`` as not understood, or hide the note when there are none."""
        self.message = "not understood: " + "  ".join(tokens) if tokens else ""
        self.set_class(bool(tokens), "-shown")
        self.update(Content(self.message))
