"""Which offer of one GPU model to rent: the by-GPU view's `enter` opens this dialog.

It lists the model's cheapest offer on each platform, on-demand and spot, with $/h,
$/GPU-h and stock. `enter` (or "Rent this offer") picks the highlighted one; offers that
cannot be rented now (RunPod out of stock, or no stock figure) are listed but greyed out
and cannot be picked. `escape` closes without renting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, OptionList, Static
from textual.widgets.option_list import Option

from vp_tui.core.models import Offer, Stock
from vp_tui.core.money import format_price
from vp_tui.core.ranking import per_gpu_hour, unavailable_reason

_PLATFORMS = {"vast": "Vast", "runpod": "RunPod"}
_STOCK = {Stock.HIGH: "high", Stock.MEDIUM: "medium", Stock.LOW: "low", Stock.NONE: "out"}


def choice_text(offer: Offer) -> str:
    """One offer as a line of the dialog: platform, kind, GPUs, $/h, $/GPU-h, stock."""
    spot = offer.interruptible
    bid = "≥" if spot else " "
    kind = "spot (bid)" if spot else "on-demand"
    gpus = f"{offer.gpu_count}x {offer.label}"
    if offer.cloud:
        gpus += f" ({offer.cloud.lower()})"
    if offer.platform == "runpod":
        stock = "stock ?" if offer.stock is None else f"stock {_STOCK.get(offer.stock, '?')}"
    else:
        stock = ""
    reason = unavailable_reason(offer)
    line = (
        f"{_PLATFORMS.get(offer.platform, offer.platform):<7} {kind:<10}  {gpus:<30}"
        f"  {bid}{format_price(offer.price_per_hour)}/h"
        f"  {bid}{format_price(per_gpu_hour(offer))}/GPU-h  {stock}"
    )
    if reason is not None:
        line += f"  (cannot rent: {reason})"
    return line.rstrip()


class OfferPickScreen(ModalScreen[Offer | None]):
    """Pick one of a GPU model's best offers to rent; dismisses with it, or None."""

    DEFAULT_CSS = """
    OfferPickScreen {
        align: center middle;
    }
    OfferPickScreen > #pick-dialog {
        width: auto;
        min-width: 60;
        max-width: 96%;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        border: thick $primary;
        background: $surface;
    }
    OfferPickScreen #pick-title {
        text-style: bold;
        margin-bottom: 1;
    }
    OfferPickScreen #pick-offers {
        width: auto;
        height: auto;
        max-height: 12;
    }
    OfferPickScreen #pick-note {
        color: $text-muted;
        margin-top: 1;
    }
    OfferPickScreen #pick-buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    OfferPickScreen #pick-buttons > Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "rent", "Rent this offer", id="offer_pick.rent", priority=True),
        Binding("escape", "cancel", "Cancel", id="offer_pick.cancel"),
        Binding("j", "cursor_down", "Next offer", show=False, id="offer_pick.j"),
        Binding("k", "cursor_up", "Previous offer", show=False, id="offer_pick.k"),
    ]

    def __init__(self, gpu: str, offers: Sequence[Offer], preferred: Offer | None = None) -> None:
        super().__init__()
        self.gpu = gpu
        self.offers: tuple[Offer, ...] = tuple(offers)
        """The offers listed, in the order shown."""
        self.preferred = preferred
        """The offer the cursor starts on (when it can be rented): the cheapest compared."""

    def compose(self) -> ComposeResult:
        options = [
            Option(
                Text(choice_text(offer)),
                id=str(i),
                disabled=unavailable_reason(offer) is not None,
            )
            for i, offer in enumerate(self.offers)
        ]
        with Vertical(id="pick-dialog"):
            yield Static(f"Rent {self.gpu}: pick an offer", id="pick-title", markup=False)
            yield OptionList(*options, id="pick-offers")
            if any(unavailable_reason(offer) is not None for offer in self.offers):
                yield Static(
                    "Greyed-out offers are out of stock (or of unknown stock) on RunPod.",
                    id="pick-note",
                    markup=False,
                )
            with Horizontal(id="pick-buttons"):
                yield Button("Rent this offer", id="pick-rent", variant="primary")
                yield Button("Cancel", id="pick-cancel")
        yield Footer()

    def on_mount(self) -> None:
        """Put the cursor on the preferred offer, else on the first that can be rented."""
        options = self.query_one("#pick-offers", OptionList)
        options.focus()
        rentable = [i for i, o in enumerate(self.offers) if unavailable_reason(o) is None]
        preferred = [i for i in rentable if self.offers[i] == self.preferred]
        start = preferred or rentable
        options.highlighted = start[0] if start else None

    @property
    def highlighted_offer(self) -> Offer | None:
        """The offer under the cursor, None when there is none to rent."""
        option = self.query_one("#pick-offers", OptionList).highlighted_option
        if option is None or option.id is None or option.disabled:
            return None
        return self.offers[int(option.id)]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A click or `enter` on an offer picks it."""
        event.stop()
        self.action_rent()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Rent the highlighted offer, or close."""
        event.stop()
        if event.button.id == "pick-rent":
            self.action_rent()
        else:
            self.action_cancel()

    def action_rent(self) -> None:
        """Close with the highlighted offer (a focused Cancel button cancels instead)."""
        focused = self.focused
        if isinstance(focused, Button) and focused.id == "pick-cancel":
            self.action_cancel()
            return
        offer = self.highlighted_offer
        if offer is None:
            self.notify("None of these offers can be rented now", severity="warning", markup=False)
            return
        self.dismiss(offer)

    def action_cancel(self) -> None:
        """Close without renting."""
        self.dismiss(None)

    def action_cursor_down(self) -> None:
        """Highlight the next offer."""
        self.query_one("#pick-offers", OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        """Highlight the previous offer."""
        self.query_one("#pick-offers", OptionList).action_cursor_up()
