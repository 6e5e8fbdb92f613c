"""The offer details dialog: every fact of one offer, and a button to rent it.

Dismissed with True when the user asked to rent the offer (the dashboard then
opens the create dialog), False when closed. A RunPod offer without stock is
refused here, with a notification, rather than failing at launch.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from vp_tui.core.models import Offer
from vp_tui.core.ranking import unavailable_reason
from vp_tui.tui.screens.confirm import press_focused
from vp_tui.tui.widgets.offer_detail import PLATFORM_NAMES, OfferDetail


class OfferDetailScreen(ModalScreen[bool]):
    """What an offer is (GPU, price, machine, network, host, stock); `c` rents it."""

    DEFAULT_CSS = """
    OfferDetailScreen #offer-detail-body {
        height: auto;
        max-height: 45vh;
    }
    """
    """The facts scroll on short terminals so that the buttons stay in the dialog."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "rent", "Rent this…", id="offer_detail.rent"),
        Binding("escape", "close", "Close", id="offer_detail.close"),
        Binding("i", "close", "Close", show=False, id="offer_detail.close_i"),
        Binding("q", "close", "Close", show=False, id="offer_detail.close_q"),
        Binding(
            "enter", "press_focused", "The focused button", show=False, id="offer_detail.enter"
        ),
        Binding("down,j", "scroll(1)", "Scroll down", show=False, id="offer_detail.down"),
        Binding("up,k", "scroll(-1)", "Scroll up", show=False, id="offer_detail.up"),
    ]

    def __init__(self, offer: Offer) -> None:
        super().__init__()
        self.offer = offer

    def compose(self) -> ComposeResult:
        offer = self.offer
        title = f"{offer.gpu_count}x {offer.label} on {PLATFORM_NAMES.get(offer.platform, '')}"
        with Vertical(id="dialog"):
            yield Static(title, id="dialog-title", markup=False)
            with VerticalScroll(id="offer-detail-body"):
                yield OfferDetail(offer, id="offer-detail-facts")
            with Horizontal(id="dialog-buttons"):
                yield Button("Rent this… (c)", id="rent", variant="primary")
                yield Button("Close (esc)", id="close")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "rent":
            self.action_rent()
        else:
            self.action_close()

    def action_rent(self) -> None:
        """Close and rent the offer, unless it cannot be rented now."""
        reason = unavailable_reason(self.offer)
        if reason is not None:
            where = f" ({self.offer.cloud.lower()} cloud)" if self.offer.cloud else ""
            self.notify(
                f"{self.offer.label} is {reason}{where} right now:"
                " pick another offer or try again later.",
                title="Rent",
                severity="warning",
                markup=False,
            )
            return
        self.dismiss(True)

    def action_close(self) -> None:
        """Close without renting."""
        self.dismiss(False)

    def action_scroll(self, lines: int) -> None:
        """Scroll the facts by ``lines``."""
        body = self.query_one("#offer-detail-body", VerticalScroll)
        body.scroll_relative(y=lines, animate=False)

    def action_press_focused(self) -> None:
        """Do what the focused button says."""
        press_focused(self)
