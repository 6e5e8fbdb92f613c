"""The platforms pane: connection state, balance, instances running, include in comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from vp_tui.core.money import format_money, format_price

if TYPE_CHECKING:
    from vp_tui.core.models import Account, PlatformName, PlatformStatus

NAMES: dict[str, str] = {"vast": "Vast.ai", "runpod": "RunPod"}


@dataclass
class PlatformView:
    """What the pane shows for one platform."""

    name: PlatformName
    status: PlatformStatus | None = None
    account: Account | None = None
    running: int = 0
    included: bool = True
    offers: int = 0
    extra: dict[str, str] = field(default_factory=dict)


class PlatformsPane(Widget, can_focus=True):
    """Each platform's health and money; space toggles it in the offer comparison."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "platforms-pane--cursor",
        "platforms-pane--ok",
        "platforms-pane--error",
        "platforms-pane--stale",
        "platforms-pane--dim",
    }
    DEFAULT_CSS = """
    PlatformsPane { height: 1fr; padding: 0 1; }
    PlatformsPane > .platforms-pane--cursor { background: $accent 30%; }
    PlatformsPane:focus > .platforms-pane--cursor { background: $accent 60%; }
    PlatformsPane > .platforms-pane--ok { color: $success; }
    PlatformsPane > .platforms-pane--error { color: $error; }
    PlatformsPane > .platforms-pane--stale { color: $warning; }
    PlatformsPane > .platforms-pane--dim { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_included", "Compare on/off", id="platforms.toggle"),
        Binding(
            "enter", "toggle_included", "Compare on/off", show=False, id="platforms.toggle_enter"
        ),
        Binding("up", "cursor(-1)", "Previous", show=False, id="platforms.up"),
        Binding("down", "cursor(1)", "Next", show=False, id="platforms.down"),
    ]

    class IncludedChanged(Message):
        """The set of platforms included in the comparison changed."""

        def __init__(self, pane: PlatformsPane, included: list[PlatformName]) -> None:
            super().__init__()
            self.pane = pane
            self.included = included

        @property
        def control(self) -> PlatformsPane:
            """The pane that changed."""
            return self.pane

    cursor: reactive[int] = reactive(0)

    def __init__(self, names: list[PlatformName], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views: dict[PlatformName, PlatformView] = {n: PlatformView(n) for n in names}

    def set_platforms(self, names: list[PlatformName]) -> None:
        """Show these platforms (known once the engine has started)."""
        self.views = {n: self.views.get(n, PlatformView(n)) for n in names}
        self.cursor = 0
        self.refresh()

    @property
    def included(self) -> list[PlatformName]:
        """Platforms whose offers are shown and compared."""
        return [name for name, view in self.views.items() if view.included]

    def update_platform(
        self,
        name: PlatformName,
        *,
        status: PlatformStatus | None = None,
        account: Account | None = None,
        running: int | None = None,
        offers: int | None = None,
    ) -> None:
        """Show what was just learned about a platform."""
        view = self.views.get(name)
        if view is None:
            return
        if status is not None:
            view.status = status
        if account is not None:
            view.account = account
        if running is not None:
            view.running = running
        if offers is not None:
            view.offers = offers
        self.refresh()

    def action_cursor(self, step: int) -> None:
        """Move between platforms."""
        if self.views:
            self.cursor = (self.cursor + step) % len(self.views)

    def action_toggle_included(self) -> None:
        """Include or leave out the platform under the cursor in the comparison."""
        names = list(self.views)
        if not names:
            return
        view = self.views[names[self.cursor]]
        if view.included and len(self.included) == 1:
            self.notify("At least one platform stays in the comparison.", severity="warning")
            return
        view.included = not view.included
        self.refresh()
        self.post_message(self.IncludedChanged(self, self.included))

    def watch_cursor(self) -> None:
        self.refresh()

    def render(self) -> Text:
        """Two or three lines per platform."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, view in enumerate(self.views.values()):
            if index:
                text.append("\n")
            cursor = self.get_component_rich_style(
                "platforms-pane--cursor" if index == self.cursor else "platforms-pane--dim",
                partial=True,
            )
            check = "[x]" if view.included else "[ ]"
            line = Text(f"{check} {NAMES.get(view.name, view.name)}", style="bold")
            if index == self.cursor:
                line.stylize(cursor)
            text.append_text(line)
            text.append("\n  ")
            text.append_text(self._state(view))
            text.append("\n  ")
            balance = view.account.balance if view.account else None
            burn = view.account.spend_per_hour if view.account else None
            text.append(f"balance {format_money(balance)}")
            if burn is not None:
                text.append(f"  {format_price(burn)}/h")
            text.append(f"\n  {view.running} running  {view.offers:,} offers\n")
        return text

    def _state(self, view: PlatformView) -> Text:
        status = view.status
        if status is None:
            return Text("connecting…", style=self.get_component_rich_style("platforms-pane--dim"))
        if status.ok:
            return Text("● connected", style=self.get_component_rich_style("platforms-pane--ok"))
        if status.stale_since is not None:
            since = _clock(status.stale_since)
            return Text(
                f"● stale since {since}: {status.error}",
                style=self.get_component_rich_style("platforms-pane--stale"),
            )
        return Text(
            f"● error: {status.error}", style=self.get_component_rich_style("platforms-pane--error")
        )


def _clock(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M:%S")
