"""Every key of the dashboard, in one registry built from the bindings themselves.

The help screen (`?`) and the command palette (`ctrl+p`) both read
``binding_sections``: a new binding on a pane shows up in both without a
hand-kept list. The palette runs a binding's action on the widget that owns
it, so choosing "Instances: Destroy" does what `d` does in that pane.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from vp_tui.tui.base import DashboardBase

NAVIGATION_KEYS = frozenset(
    {"up", "down", "left", "right", "pageup", "pagedown", "home", "end", "ctrl+p"}
    | {"j", "k", "g", "G"}
)
"""Keys that only move a cursor or open the palette: listed in help, not offered in it."""


@dataclass(frozen=True)
class Section:
    """The keys that work in one place, and the widget whose actions they run."""

    title: str
    bindings: Sequence[BindingType]
    target: str | None = None
    """Selector of the widget that runs the actions; None for the app."""
    in_palette: bool = True
    """False for dialogs: their keys only mean something while they are open."""


def binding_sections(app: DashboardBase) -> list[Section]:
    """Every place with keys, in the order help shows them."""
    from vp_tui.tui.screens.confirm import ConfirmScreen
    from vp_tui.tui.screens.create import CreateScreen
    from vp_tui.tui.screens.destroy import DestroyScreen
    from vp_tui.tui.screens.help import HelpScreen, HelpScroll
    from vp_tui.tui.screens.jobs import JobsScreen
    from vp_tui.tui.screens.offer_detail import OfferDetailScreen
    from vp_tui.tui.screens.offer_pick import OfferPickScreen
    from vp_tui.tui.screens.quit import QuitScreen
    from vp_tui.tui.screens.run import RunScreen
    from vp_tui.tui.widgets.instances_table import InstancesTable
    from vp_tui.tui.widgets.log_view import JobLog
    from vp_tui.tui.widgets.offers_table import OffersTable
    from vp_tui.tui.widgets.platforms_pane import PlatformsPane

    filter_key = Binding(
        "slash", "app.filter_offers", "Filter (e.g. 4090 <0.5 vram>=24 runpod spot)"
    )
    return [
        Section("Everywhere", type(app).BINDINGS),
        Section("Platforms pane", PlatformsPane.BINDINGS, "#platforms"),
        Section("Offers pane", [filter_key, *OffersTable.BINDINGS], "#offers"),
        Section("Instances pane", InstancesTable.BINDINGS, "#instances"),
        Section("Log pane", JobLog.BINDINGS, "#job-log"),
        Section("Offer details", OfferDetailScreen.BINDINGS, in_palette=False),
        Section("Pick an offer (by-GPU view)", OfferPickScreen.BINDINGS, in_palette=False),
        Section(
            "Create dialog",
            [*CreateScreen.BINDINGS, Binding("enter", "", "Next field (on Launch: launch)")],
            in_palette=False,
        ),
        Section("Run dialog", [Binding("enter", "", "Run"), *RunScreen.BINDINGS], in_palette=False),
        Section("Destroy dialog", DestroyScreen.BINDINGS, in_palette=False),
        Section("Confirmations", ConfirmScreen.BINDINGS, in_palette=False),
        Section("Quit dialog", QuitScreen.BINDINGS, in_palette=False),
        Section("Jobs list", JobsScreen.BINDINGS, in_palette=False),
        Section("Help", [*HelpScreen.BINDINGS, *HelpScroll.BINDINGS], in_palette=False),
    ]


def _bindings(bindings: Iterable[BindingType]) -> Iterator[Binding]:
    for binding in bindings:
        if isinstance(binding, Binding):
            yield binding


def palette_commands(app: DashboardBase) -> Iterator[SystemCommand]:
    """One palette entry per distinct action of the panes and the app."""
    seen: set[tuple[str | None, str]] = set()
    for section in binding_sections(app):
        if not section.in_palette:
            continue
        place = section.title.removesuffix(" pane")
        for binding in _bindings(section.bindings):
            keys = {k.strip() for k in binding.key.split(",")}
            if not binding.action or not binding.description or keys <= NAVIGATION_KEYS:
                continue
            if (section.target, binding.action) in seen:
                continue
            seen.add((section.target, binding.action))
            key = (binding.key_display or binding.key).replace("slash", "/")
            yield SystemCommand(
                f"{place}: {binding.description}",
                f"key {key.replace('question_mark', '?')}",
                _runner(app, binding.action, section.target),
            )


def _runner(app: DashboardBase, action: str, target: str | None) -> Callable[[], None]:
    def run() -> None:
        if target is None:
            app.call_later(app.run_action, action)
            return
        if not app.engine_up():
            return
        widgets = app.query(target)
        if widgets:
            app.call_later(app.run_action, action, widgets.first())

    return run
