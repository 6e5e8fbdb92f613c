"""The four panes: which is focused, and the narrow layout that shows one at a time.

Below ``NARROW_WIDTH`` x ``NARROW_HEIGHT`` the panes become tabs: the focused
pane fills the screen and the tabs steer between them. The pane shown is the
one the user chose (offers until they choose): loading, mounting the panes or
the tabs' own start-up never switch it.
"""

from __future__ import annotations

from textual import events, on
from textual.widget import Widget
from textual.widgets import Input, Tabs

from vp_tui.tui.base import DashboardBase

PANES: tuple[tuple[str, str, str], ...] = (
    ("platforms", "1 Platforms", "#platforms"),
    ("offers", "2 Offers", "#offers"),
    ("instances", "3 Instances", "#instances"),
    ("log", "4 Log", "#job-log"),
)
"""(pane id, title, selector of the widget that takes focus)."""

NARROW_WIDTH = 100
NARROW_HEIGHT = 30


class PaneLayout(DashboardBase):
    """Focus moves between panes by number, tab or click; narrow screens show one."""

    chosen_pane: str = "offers"
    """The pane the user chose last (by key, tab or click): shown and focused once the
    panes exist, and the one a narrow screen shows."""

    def on_resize(self, event: events.Resize) -> None:
        self.apply_layout(event.size.width, event.size.height)

    def apply_layout(self, width: int, height: int) -> None:
        """Switch between the grid and the one-pane-at-a-time layout."""
        narrow = width < NARROW_WIDTH or height < NARROW_HEIGHT
        self.screen.set_class(narrow, "-narrow")
        if narrow:
            self._show_pane(self.focused_pane() or self.chosen_pane)

    def focused_pane(self) -> str | None:
        """The pane holding the focus, if any."""
        node: Widget | None = self.focused
        while node is not None:
            if node.id and node.id.endswith("-pane") and node.has_class("pane"):
                return node.id.removesuffix("-pane")
            parent = node.parent
            node = parent if isinstance(parent, Widget) else None
        return None

    def _show_pane(self, pane: str) -> None:
        for name, _, _ in PANES:
            found = self.query(f"#{name}-pane")
            if found:
                found.first().set_class(name == pane, "-active")
        tabs = self.query(Tabs)
        if tabs and tabs.first().active != f"tab-{pane}":
            tabs.first().active = f"tab-{pane}"

    @on(Tabs.TabActivated, "#pane-tabs")
    def _tab_chosen(self, event: Tabs.TabActivated) -> None:
        pane = (event.tab.id or "").removeprefix("tab-")
        if not self.screen.has_class("-narrow"):
            return  # the tabs only steer the narrow layout
        if not event.tabs.has_focus:
            # Activated by the layout itself, or by the tabs' mount choosing their first
            # tab: only a click on a tab (which focuses the tabs) is the user's choice.
            return
        if pane and self.focused_pane() != pane:
            self.action_focus_pane(pane)

    def on_descendant_focus(self) -> None:
        pane = self.focused_pane()
        if pane is None:
            return
        self.chosen_pane = pane
        if self.screen.has_class("-narrow"):
            self._show_pane(pane)

    def action_focus_pane(self, pane: str) -> None:
        """Focus one of the four panes."""
        selector = {p: s for p, _, s in PANES}.get(pane)
        if selector is None:
            return
        self.chosen_pane = pane
        if self.screen.has_class("-narrow"):
            self._show_pane(pane)
        found = self.query(selector)
        if found:  # the panes' widgets appear once the engine has started
            found.first().focus()

    def _step_pane(self, step: int) -> None:
        if self.modal_open() or isinstance(self.focused, Input):
            # In dialogs (and the filter), tab moves between fields as usual.
            if step > 0:
                self.screen.focus_next()
            else:
                self.screen.focus_previous()
            return
        names = [p for p, _, _ in PANES]
        current = self.focused_pane() or "offers"
        self.action_focus_pane(names[(names.index(current) + step) % len(names)])

    def action_next_pane(self) -> None:
        """Focus the next pane."""
        self._step_pane(1)

    def action_previous_pane(self) -> None:
        """Focus the previous pane."""
        self._step_pane(-1)
