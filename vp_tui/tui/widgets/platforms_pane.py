"""The platforms pane: connection state, balance, instances running, include in comparison."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
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
    """How the last offer refresh went."""
    account: Account | None = None
    account_error: str | None = None
    """Why the balance could not be read, if it could not."""
    running: int | None = None
    """Instances running; None while not known (not listed yet, or the listing failed)."""
    listing_error: str | None = None
    """Why the last instance listing failed, if it did."""
    included: bool = True
    offers: int = 0

    @property
    def skipped(self) -> int:
        """Rows of the last offer answer that could not be read."""
        return self.status.skipped_rows if self.status is not None else 0


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
        Binding("k", "cursor(-1)", "Previous", show=False, id="platforms.k"),
        Binding("j", "cursor(1)", "Next", show=False, id="platforms.j"),
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
        self.balance_below: float | None = None
        """Balances below this many dollars are shown in the warning colour."""

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
        account_error: str | None = None,
        running: int | None = None,
        listing_error: str | None = None,
        known: bool = False,
        offers: int | None = None,
    ) -> None:
        """Show what was just learned about a platform.

        ``known=True`` says ``running`` and ``listing_error`` come from an instance
        listing (and may be None); ``account`` and ``account_error`` come together.
        """
        view = self.views.get(name)
        if view is None:
            return
        if status is not None:
            view.status = status
        if account is not None or account_error is not None:
            view.account = account or view.account
            view.account_error = account_error
        if known:
            view.running = running
            view.listing_error = listing_error
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
            text.append_text(self._money(view))
            running = "?" if view.running is None else str(view.running)
            text.append(f"\n  {running} running  {view.offers:,} offers")
            if view.skipped:
                text.append(
                    f"\n  {view.skipped:,} rows unreadable (see log)",
                    style=self.get_component_rich_style("platforms-pane--stale"),
                )
            if view.listing_error and view.listing_error != self._offers_error(view):
                text.append(
                    f"\n  instances: {view.listing_error}",
                    style=self.get_component_rich_style("platforms-pane--error"),
                )
            text.append("\n")
        return text

    @staticmethod
    def _offers_error(view: PlatformView) -> str | None:
        return view.status.error if view.status is not None and not view.status.ok else None

    def _money(self, view: PlatformView) -> Text:
        """The balance line; an error is shown here unless the line above says it already."""
        account = view.account
        balance = "?" if account is None and view.account_error else None
        if account is not None and account.balance is None and account.balance_unknown:
            balance = "unknown"
        text = Text(f"balance {balance or format_money(account.balance if account else None)}")
        low, amount = self.balance_below, account.balance if account is not None else None
        if low is not None and amount is not None and amount < low:
            text.stylize(self.get_component_rich_style("platforms-pane--stale"))
        if account is not None and account.spend_per_hour is not None:
            text.append(f"  {format_price(account.spend_per_hour)}/h")
        if account is not None and account.balance is None and account.balance_unknown:
            dim = self.get_component_rich_style("platforms-pane--dim")
            width = max(16, self.content_size.width - 2)
            for line in textwrap.wrap(account.balance_unknown, width):
                text.append(f"\n  {line}", style=dim)
        if view.account_error:
            error = self.get_component_rich_style("platforms-pane--error")
            if account is not None:
                text.append(" (stale)", style=error)
            if view.account_error not in (self._offers_error(view), view.listing_error):
                text.append(f": {view.account_error}", style=error)
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
